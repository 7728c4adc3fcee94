-- join: gives a visitor a place in a sale's waiting room, once per user (joining again answers the same ticket).
-- Tickets are numbered in order of arrival (the join counter). The waiting set's score orders the inlet's pops:
-- fifo after the start: the ticket number; fifo in the pre-queue (before the start): a fraction in [0, 1) drawn from
-- the room's seed and the ticket, so the pre-queue comes first, shuffled; random: the ticket (the inlet draws by rank,
-- so the score does not matter). Joining after the start closes the pre-queue first (see close-pre-queue below).
--
-- KEYS[1]  room settings          wr:{r<item>}:cfg      (hash: mode, rate, cap, ttl, seed, startsAt, opensAt, preQueued)
-- KEYS[2]  join counter           wr:{r<item>}:seq
-- KEYS[3]  tickets by user        wr:{r<item>}:tickets
-- KEYS[4]  waiting set            wr:{r<item>}:waiting
-- KEYS[5]  admitted tickets       wr:{r<item>}:admitted-set
-- KEYS[6]  restore pause          wr:{r<item>}:paused
-- KEYS[7]  last seen              wr:{r<item>}:seen
-- ARGV[1]  user id
-- ARGV[2]  a ticket number this user already held (a rejoin after Redis lost the room), or 0
--
-- Returns  the ticket number · -1 the room is missing (restore it) · -2 not open yet (before the pre-queue opens) ·
--          -3 a new visitor while the room is being restored (the join counter is only whole again once every
--          process has merged the highest ticket it handed out)

local cfg = redis.call('HMGET', KEYS[1], 'mode', 'seed', 'startsAt', 'opensAt', 'preQueued')
if not cfg[1] then
  return -1
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local startsAt = tonumber(cfg[3])
if now < tonumber(cfg[4]) then
  return -2
end
local existing = redis.call('HGET', KEYS[3], ARGV[1])
if existing then
  redis.call('ZADD', KEYS[7], now, existing)
  return tonumber(existing)
end
local preQueued = cfg[5]
if now >= startsAt and not preQueued then
  -- close-pre-queue: the tickets handed out so far are the pre-queue, whoever runs first after the start says so
  preQueued = redis.call('GET', KEYS[2]) or '0'
  redis.call('HSET', KEYS[1], 'preQueued', preQueued)
end
local ticket = tonumber(ARGV[2])
if ticket > 0 then
  -- an admitted ticket never waits again (restore.lua takes back out any that a later merge shows admitted)
  redis.call('ZADD', KEYS[7], now, ticket)
  if redis.call('SISMEMBER', KEYS[5], ticket) == 1 then
    redis.call('HSET', KEYS[3], ARGV[1], ticket)
    return ticket
  end
  if ticket > tonumber(redis.call('GET', KEYS[2]) or '0') then
    redis.call('SET', KEYS[2], ticket)
  end
elseif redis.call('EXISTS', KEYS[6]) == 1 then
  return -3
else
  ticket = redis.call('INCR', KEYS[2])
end
redis.call('HSET', KEYS[3], ARGV[1], ticket)
redis.call('ZADD', KEYS[7], now, ticket)
local score = ticket
local inPreQueue = (preQueued and ticket <= tonumber(preQueued)) or (not preQueued and now < startsAt)
if cfg[1] == 'fifo' and inPreQueue then
  score = tonumber(string.sub(redis.sha1hex(cfg[2] .. ':' .. ticket), 1, 13), 16) / 4503599627370496
end
redis.call('ZADD', KEYS[4], 'NX', score, ticket)
return ticket
