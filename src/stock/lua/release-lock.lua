-- release-lock: compare-and-delete, so only the lock's holder can release it.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the holder's token
--
-- Returns  1 released · 0 not held by this token (expired, or someone else's)

if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
