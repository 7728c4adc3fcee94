-- discard-reservation: the database refused the order because the segment's ledger is full, so the unit Redis handed
-- out never existed. Drop the reservation without returning a unit, and clamp the counter to 0: the database said
-- this segment has nothing left (a cancel racing this clamp is repaired by the resync).
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  reservation
--
-- Returns  the number of phantom units removed from the counter

redis.call('ZREM', KEYS[2], ARGV[1])
local stock = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('INCR', KEYS[3])
if stock > 0 then
  redis.call('SET', KEYS[1], 0)
  return stock
end
return 0
