-- release-buyer: the purchase did not happen, so the user may try again; only the reservation holding the claim may
-- release it (compare-and-delete).
--
-- KEYS[1]  buyers shard            sk:{i<item>:s<k>}:buyers
-- ARGV[1]  user id
-- ARGV[2]  reservation of the failed purchase
--
-- Returns  1 released · 0 the claim belongs to another reservation (or to none)

if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 1
end
return 0
