-- take-if-positive: the lock-free strategy ("lua"): decrement a segment only if it has stock, atomically.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- ARGV[1]  reservation member (order id)
-- ARGV[2]  now, in ms
--
-- Returns  1 taken · 0 segment empty

local left = tonumber(redis.call('GET', KEYS[1]) or '0')
if left <= 0 then
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
