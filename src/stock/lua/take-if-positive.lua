-- take-if-positive: the lock-free take: decrement a segment only if it has stock, atomically, and record the
-- reservation. Idempotent per reservation: a re-sent copy finds the reservation and takes nothing more.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  reservation
-- ARGV[2]  now, in ms
--
-- Returns  1 taken (now or by an earlier copy) · 0 segment empty · -2 segment missing

if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 1
end
local stock = redis.call('GET', KEYS[1])
if not stock then
  return -2
end
if tonumber(stock) <= 0 then
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('INCR', KEYS[3])
return 1
