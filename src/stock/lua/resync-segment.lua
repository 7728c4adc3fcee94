-- resync-segment: set a quiet segment's counter to what the database says is left. Quiet means: no reservation in
-- flight and no change since the caller read the segment (read-segment) before it read the database, so the
-- database's answer describes exactly this state of the segment.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  change counter the caller read
-- ARGV[2]  units for sale according to the database
--
-- Returns  1 counter set · 0 the segment changed, has reservations in flight, or is missing (nothing done)

if tonumber(redis.call('GET', KEYS[3]) or '0') ~= tonumber(ARGV[1]) then
  return 0
end
if redis.call('ZCARD', KEYS[2]) > 0 or redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('INCR', KEYS[3])
return 1
