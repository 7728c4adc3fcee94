-- claim: one purchase per user per item. The buyers hash maps a user to the reservation that holds the claim, so a
-- re-sent claim (ioredis re-sends unanswered commands after a reconnect) recognises its own claim.
--
-- KEYS[1]  buyers shard            sk:{i<item>:s<k>}:buyers   (HASH user id -> reservation)
-- ARGV[1]  user id
-- ARGV[2]  reservation of this purchase
--
-- Returns  1 claimed (or already claimed by this reservation) · 0 the user is held by another reservation

local owner = redis.call('HGET', KEYS[1], ARGV[1])
if owner and owner ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
