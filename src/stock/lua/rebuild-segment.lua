-- rebuild-segment: Redis lost this segment (restart, flush, failover to an empty replica); put it back from the
-- database's ledger. A segment that still exists is left alone, so a rebuild can never clobber live state.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment returned units  sk:{i<item>:s<n>}:returned
-- KEYS[4]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  units for sale according to the database (capacity - active orders)
-- ARGV[2…] order ids of cancelled orders whose give-back is still owed: already counted in ARGV[1], so marked
--          returned here to make their late give-back a no-op
--
-- Returns  1 rebuilt · 0 the segment exists (nothing done)

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3])
for i = 2, #ARGV do
  redis.call('SADD', KEYS[3], ARGV[i])
end
redis.call('INCR', KEYS[4])
return 1
