-- advance: the inlet and the per-process refresh in one step. Every api process runs it about every 100 ms; it
-- admits as many waiting visitors as the room's rate (a token bucket whose burst is one refresh period's worth), its
-- cap on admitted-but-unfinished visitors and the units left allow (never more unfinished admissions, passes unspent
-- or purchases under way, than units not yet ordered: admitted visitors do not race for the last units, and nobody is
-- admitted to a sold-out sale), then answers what the process copies: the counters and the admission log from the
-- caller's cursor. Atomic, so however many processes run it the rate holds.
-- fifo admits the lowest score (the shuffled pre-queue, then arrival order); random draws the k-th admission's
-- visitor by rank from a fraction of sha1(seed:k): each waiting visitor equally likely, reproducible from the seed.
-- Nobody is admitted while the room is being restored or says sold out; a unit given back (an unpaid order expired)
-- lowers the orders counted and lifts the flag, and the worker's sweep sets the count from the ledger.
--
-- KEYS[1]  room settings          wr:{r<item>}:cfg
-- KEYS[2]  join counter           wr:{r<item>}:seq
-- KEYS[3]  waiting set            wr:{r<item>}:waiting
-- KEYS[4]  admission log          wr:{r<item>}:admitted   (list of "ticket:admittedAtMs", in admission order)
-- KEYS[5]  unfinished admissions  wr:{r<item>}:inflight   (zset ticket -> pass expiry ms)
-- KEYS[6]  token bucket           wr:{r<item>}:bucket     (hash: at, tokens)
-- KEYS[7]  sold-out flag          wr:{r<item>}:soldout
-- KEYS[8]  orders counted         wr:{r<item>}:ordered
-- KEYS[9]  admitted tickets       wr:{r<item>}:admitted-set
-- KEYS[10] restore pause          wr:{r<item>}:paused
-- KEYS[11] last seen              wr:{r<item>}:seen       (zset ticket -> ms of its last join or status poll)
-- KEYS[12] away                   wr:{r<item>}:away       (zset ticket -> its score in the waiting set)
-- ARGV[1]  the caller's cursor in the admission log (entries it has)
-- ARGV[2]  most log entries to answer
-- ARGV[3]  refresh period in ms (the bucket's burst)
-- ARGV[4]  most admissions in one call (keeps the script short)
-- ARGV[5]  presence: a visitor not seen for this many ms when their turn comes is skipped (0: never)
-- ARGV[6]  most visitors skipped in one call
-- ARGV[7…] tickets the caller saw poll since its last call
--
-- Returns  {now, joined, preQueued or -1, admitted, waiting, unfinished, soldOut 0/1, ordered, epoch, entries...} ·
--          {-1} the room is missing (rebuild it)

local cfg = redis.call('HMGET', KEYS[1], 'mode', 'rate', 'cap', 'ttl', 'seed', 'startsAt', 'preQueued', 'epoch', 'stock')
if not cfg[1] then
  return { -1 }
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local rate, cap, ttl, startsAt = tonumber(cfg[2]), tonumber(cfg[3]), tonumber(cfg[4]), tonumber(cfg[6])
local preQueued = cfg[7]
local paused = redis.call('EXISTS', KEYS[10]) == 1
-- while a restore is merged, the processes that know where the pre-queue ended say so (restore.lua)
if now >= startsAt and not preQueued and not paused then
  preQueued = redis.call('GET', KEYS[2]) or '0'
  redis.call('HSET', KEYS[1], 'preQueued', preQueued)
end
-- passes that expired unused free their places
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)
-- visitors seen again: a skipped one is back in line at the place it had
for i = 7, #ARGV do
  redis.call('ZADD', KEYS[11], now, ARGV[i])
  local score = redis.call('ZSCORE', KEYS[12], ARGV[i])
  if score then
    redis.call('ZREM', KEYS[12], ARGV[i])
    redis.call('ZADD', KEYS[3], score, ARGV[i])
  end
end
-- admitted visitors not seen since the away period (gone with their pass unspent: the buyer gave up) free their
-- places; the pass stays good until it expires should they come back after all
local presence = tonumber(ARGV[5])
if presence > 0 then
  for _, ticket in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
    if tonumber(redis.call('ZSCORE', KEYS[11], ticket) or '0') < now - presence then
      redis.call('ZREM', KEYS[5], ticket)
    end
  end
end

local function admit(ticket)
  redis.call('RPUSH', KEYS[4], ticket .. ':' .. now)
  redis.call('SADD', KEYS[9], ticket)
  redis.call('ZADD', KEYS[5], now + ttl, ticket)
end

local soldOut = redis.call('EXISTS', KEYS[7]) == 1
local ordered = tonumber(redis.call('GET', KEYS[8]) or '0')
if now >= startsAt and not paused and not soldOut then
  local unfinished = redis.call('ZCARD', KEYS[5])
  local unitsLeft = tonumber(cfg[9]) - ordered - unfinished
  local allowed = math.min(redis.call('ZCARD', KEYS[3]), tonumber(ARGV[4]), unitsLeft)
  local tokens = 0
  if rate > 0 then
    local bucket = redis.call('HMGET', KEYS[6], 'at', 'tokens')
    local burst = math.max(1, rate * tonumber(ARGV[3]) / 1000)
    local at = tonumber(bucket[1] or now)
    tokens = math.min(burst, tonumber(bucket[2] or '0') + (now - at) * rate / 1000)
    allowed = math.min(allowed, math.floor(tokens))
  end
  if cap > 0 then
    allowed = math.min(allowed, cap - unfinished)
  end
  local admittedNow, skipped = 0, 0
  while admittedNow < allowed and skipped < tonumber(ARGV[6]) and redis.call('ZCARD', KEYS[3]) > 0 do
    local rank = 0
    if cfg[1] == 'random' then
      local k = redis.call('LLEN', KEYS[4]) + 1
      local draw = tonumber(string.sub(redis.sha1hex(cfg[5] .. ':' .. k), 1, 13), 16) / 4503599627370496
      rank = math.floor(draw * redis.call('ZCARD', KEYS[3]))
    end
    local candidate = redis.call('ZRANGE', KEYS[3], rank, rank, 'WITHSCORES')
    redis.call('ZREM', KEYS[3], candidate[1])
    if presence > 0 and tonumber(redis.call('ZSCORE', KEYS[11], candidate[1]) or '0') < now - presence then
      -- gone, or not polling: skipped, not dropped (their next poll puts them back at this place)
      redis.call('ZADD', KEYS[12], candidate[2], candidate[1])
      skipped = skipped + 1
    else
      admit(candidate[1])
      admittedNow = admittedNow + 1
    end
  end
  if rate > 0 then
    redis.call('HSET', KEYS[6], 'at', now, 'tokens', tokens - admittedNow)
  end
end

local cursor = tonumber(ARGV[1])
local reply = {
  now,
  tonumber(redis.call('GET', KEYS[2]) or '0'),
  tonumber(preQueued or '-1'),
  redis.call('LLEN', KEYS[4]),
  redis.call('ZCARD', KEYS[3]),
  redis.call('ZCARD', KEYS[5]),
  soldOut and 1 or 0,
  ordered,
  cfg[8] or '0',
}
for _, entry in ipairs(redis.call('LRANGE', KEYS[4], cursor, cursor + tonumber(ARGV[2]) - 1)) do
  reply[#reply + 1] = entry
end
return reply
