-- raise-fence-counter: on one Redlock server, raise a segment's fencing counter to at least a value (never lower it).
-- A Redlock holder raises the counters of a majority to the token it took, so the next holder, whose majority
-- shares at least one server with it, draws a higher token there.
--
-- KEYS[1]  the segment's fencing counter on a Redlock server   sk:{i<item>:s<n>}:redlock-fence
-- ARGV[1]  the value it must reach
--
-- Returns  the counter after the call

local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local wanted = tonumber(ARGV[1])
if current < wanted then
  redis.call('SET', KEYS[1], ARGV[1])
  return wanted
end
return current
