-- release-reservation: the purchase failed for sure (its transaction rolled back, or the database already had an
-- order of this user): its unit goes back. Only a reservation still held returns a unit, so a second call, or a call
-- after Redis lost the segment (the rebuild counted the unit from the database), returns nothing.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  reservation
--
-- Returns  1 unit returned · 0 nothing held under this reservation

if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
end
redis.call('INCR', KEYS[3])
return 1
