-- fenced-take-and-unlock: take one unit from a segment, but only while the caller still holds the segment's lock,
-- and release that lock in the same step (the take is the whole critical section, so unlocking here saves the
-- purchase a round trip). The fencing check is what stops a holder whose lock expired (GC pause, slow network) from
-- selling a unit that the lock's next holder may also be selling. Idempotent per reservation: a re-sent copy takes
-- nothing more.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment lock            sk:{i<item>:s<n>}:lock
-- KEYS[3]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[4]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  the caller's lock token
-- ARGV[2]  reservation
-- ARGV[3]  now, in ms
--
-- Returns  1 taken (now or by an earlier copy) · 0 segment empty · -1 lock not held by this token · -2 missing
--          (the lock is released in every case where this token held it)

if redis.call('GET', KEYS[2]) == ARGV[1] then
  redis.call('DEL', KEYS[2])
elseif redis.call('ZSCORE', KEYS[3], ARGV[2]) then
  return 1
else
  return -1
end
local stock = redis.call('GET', KEYS[1])
if not stock then
  return -2
end
if tonumber(stock) <= 0 then
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])
redis.call('INCR', KEYS[4])
return 1
