-- claim-and-take: the lua strategy's whole gate in one round trip on the buyer's home segment (the segment whose slot
-- also holds the buyer's shard): claim the user, then decrement the segment if it has stock and record the
-- reservation. Idempotent per reservation: a re-sent copy finds its own claim and reservation and changes nothing.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock   (missing = Redis lost this segment; rebuild it)
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held    (ZSET reservation -> ms timestamp)
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops     (bumped by every stock change; read by the resync)
-- KEYS[4]  buyers shard            sk:{i<item>:s<n>}:buyers
-- ARGV[1]  user id
-- ARGV[2]  reservation
-- ARGV[3]  now, in ms
--
-- Returns  1 claimed and taken · 0 claimed, segment empty · -2 segment missing (nothing done) · -3 user held by
--          another reservation (nothing done)

local stock = redis.call('GET', KEYS[1])
if not stock then
  return -2
end
local owner = redis.call('HGET', KEYS[4], ARGV[1])
if owner and owner ~= ARGV[2] then
  return -3
end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[2])
if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return 1
end
if tonumber(stock) <= 0 then
  return 0
end
redis.call('DECR', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('INCR', KEYS[3])
return 1
