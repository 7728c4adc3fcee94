-- restore: Redis lost the room (flushed, restarted without its data). Each api process holds a copy of the
-- settings, the counters and the whole admission log; the first to notice writes them back with a new epoch, and
-- every other process, seeing the epoch change, adds what it knows that the restored log lacks (their copies differ
-- by at most a refresh). Waiting visitors are put back by their next status poll (a rejoin with the number their
-- signed ticket names). The inlet stays paused meanwhile, so the line is whole again before anyone new is admitted,
-- and a ticket a merge shows admitted leaves the line: nobody is admitted twice.
--
-- KEYS[1]  room settings          wr:{r<item>}:cfg
-- KEYS[2]  join counter           wr:{r<item>}:seq
-- KEYS[3]  admission log          wr:{r<item>}:admitted
-- KEYS[4]  unfinished admissions  wr:{r<item>}:inflight
-- KEYS[5]  admitted tickets       wr:{r<item>}:admitted-set
-- KEYS[6]  restore pause          wr:{r<item>}:paused
-- KEYS[7]  waiting set            wr:{r<item>}:waiting
-- ARGV[1]  pause in ms
-- ARGV[2]  number of settings fields n, then n name/value pairs
-- then     joined (the highest ticket known), preQueued (where the pre-queue ended, -1 unknown), then the log
--          entries known ("ticket:admittedAtMs")
--
-- Returns  the log's length after the merge

local n = tonumber(ARGV[2])
if redis.call('EXISTS', KEYS[1]) == 0 then
  for i = 3, 2 + 2 * n, 2 do
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
  local time = redis.call('TIME')
  redis.call('HSET', KEYS[1], 'epoch', time[1] .. string.format('%06d', time[2]))
  redis.call('SET', KEYS[6], 1, 'PX', ARGV[1])
end
local joined = tonumber(ARGV[3 + 2 * n])
if joined > tonumber(redis.call('GET', KEYS[2]) or '0') then
  redis.call('SET', KEYS[2], joined)
end
if tonumber(ARGV[4 + 2 * n]) >= 0 then
  redis.call('HSETNX', KEYS[1], 'preQueued', ARGV[4 + 2 * n])
end
local have = redis.call('LLEN', KEYS[3])
local first = 5 + 2 * n
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local ttl = tonumber(redis.call('HGET', KEYS[1], 'ttl'))
for i = first + have, #ARGV do
  redis.call('RPUSH', KEYS[3], ARGV[i])
  local ticket, at = string.match(ARGV[i], '^(%d+):(%d+)$')
  redis.call('SADD', KEYS[5], ticket)
  redis.call('ZREM', KEYS[7], ticket)
  if tonumber(at) + ttl > now then
    redis.call('ZADD', KEYS[4], tonumber(at) + ttl, ticket)
  end
end
return redis.call('LLEN', KEYS[3])
