-- read-segment: one consistent look at a segment for the resync: its counter, its change counter and how many
-- reservations are in flight.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
--
-- Returns  {counter or false when missing, change counter, reservations in flight}

return { redis.call('GET', KEYS[1]), tonumber(redis.call('GET', KEYS[3]) or '0'), redis.call('ZCARD', KEYS[2]) }
