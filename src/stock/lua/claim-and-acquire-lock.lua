-- claim-and-acquire-lock: segmented-lock's first step on the buyer's home segment (the segment whose slot also holds
-- the buyer's shard): claim the user, then lock the segment for this purchase unless it is empty. The lock is still
-- held across a round trip: the take (fenced-take-and-unlock) is a second script, checked against this token.
-- Idempotent per reservation: a re-sent copy finds its own claim (the lock it may have taken expires on its TTL).
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock   (missing = Redis lost this segment; rebuild it)
-- KEYS[2]  segment lock            sk:{i<item>:s<n>}:lock
-- KEYS[3]  buyers shard            sk:{i<item>:s<n>}:buyers
-- ARGV[1]  user id
-- ARGV[2]  reservation
-- ARGV[3]  random token of the caller
-- ARGV[4]  lock TTL in ms (only matters if the holder dies)
--
-- Returns  1 claimed and locked · 0 claimed, segment empty (not locked) · -1 claimed, lock held by someone else ·
--          -2 segment missing (nothing done) · -3 user held by another reservation (nothing done)

local stock = redis.call('GET', KEYS[1])
if not stock then
  return -2
end
local owner = redis.call('HGET', KEYS[3], ARGV[1])
if owner and owner ~= ARGV[2] then
  return -3
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
if tonumber(stock) <= 0 then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4], 'NX') then
  return 1
end
return -1
