-- return-unit: a cancelled order's unit goes back on sale, at most once per order whoever asks and however often
-- (the expiry job, its retries, the owed-give-back sweep).
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment returned units  sk:{i<item>:s<n>}:returned   (SET of order ids)
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
-- ARGV[1]  the order id
--
-- Returns  1 unit returned · 0 already returned before · -2 segment missing (the rebuild will count the unit)

if redis.call('EXISTS', KEYS[1]) == 0 then
  return -2
end
if redis.call('SADD', KEYS[2], ARGV[1]) == 0 then
  return 0
end
redis.call('INCR', KEYS[1])
redis.call('INCR', KEYS[3])
return 1
