-- give-back: return one order's unit to its segment, at most once per order whoever asks and however often.
-- Callers: a failed order transaction, the reservation sweeper, a cancelled (expired) order's job. Any of them may
-- run twice after a crash; the `returned` set makes the second call a no-op.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment returned units  sk:{i<item>:s<n>}:returned   (SET of order ids)
-- ARGV[1]  the order id
--
-- Returns  1 unit returned · 0 already returned before

redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('SADD', KEYS[3], ARGV[1]) == 0 then
  return 0
end
redis.call('INCR', KEYS[1])
return 1
