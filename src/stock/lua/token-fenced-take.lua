-- token-fenced-take: take one unit from a segment for the holder of an external lock (etcd, ZooKeeper, Redlock,
-- PostgreSQL row), only if its fencing token is higher than every token that reached this segment before. A holder
-- paused past its lease comes back with an older token than the holder after it and is refused here, at the take.
-- Tokens only grow per segment (etcd revision, ZooKeeper sequence, Redlock counter, PostgreSQL xid), so the stored
-- highest one is raised by every accepted call. Idempotent per reservation: a re-sent copy takes nothing more.
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[3]  segment change counter  sk:{i<item>:s<n>}:ops
-- KEYS[4]  segment fence           sk:{i<item>:s<n>}:fence (highest token seen, decimal)
-- ARGV[1]  the caller's fencing token (decimal integer, up to 2^53)
-- ARGV[2]  reservation
-- ARGV[3]  now, in ms
--
-- Returns  {1} taken (now or by an earlier copy) · {0} segment empty · {-2} missing ·
--          {-3, highest} fenced: the token is not above the highest seen, which is returned

if redis.call('ZSCORE', KEYS[2], ARGV[2]) then
  return {1}
end
local stock = redis.call('GET', KEYS[1])
if not stock then
  return {-2}
end
local token = tonumber(ARGV[1])
local highest = tonumber(redis.call('GET', KEYS[4]) or '0')
if token <= highest then
  return {-3, tostring(highest)}
end
redis.call('SET', KEYS[4], ARGV[1])
if tonumber(stock) <= 0 then
  return {0}
end
redis.call('DECR', KEYS[1])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[2])
redis.call('INCR', KEYS[3])
return {1}
