-- fenced-take: take one unit from a segment, but only while the caller still holds the segment's lock.
-- The fencing check is what stops a holder whose lock expired (GC pause, slow network) from selling a unit that
-- the lock's next holder may also be selling.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment lock            sk:{i<item>:s<n>}:lock
-- KEYS[3]  segment reservations    sk:{i<item>:s<n>}:held   (ZSET member = order id, score = ms timestamp)
-- ARGV[1]  the caller's lock token
-- ARGV[2]  reservation member (the order id the unit is for)
-- ARGV[3]  now, in ms (reservation score, read by the sweeper)
--
-- Returns  1 taken · 0 segment empty · -1 lock not held by this token (expired or never acquired)

if redis.call('GET', KEYS[2]) ~= ARGV[1] then
  return -1
end
local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left <= 0 then
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
return 1
