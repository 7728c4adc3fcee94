-- acquire-lock: lock a segment for one purchase, unless the segment is empty or missing (then no lock is taken, so
-- buyers racing over an exhausted item never queue behind each other's locks).
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment lock            sk:{i<item>:s<n>}:lock
-- ARGV[1]  random token of the caller
-- ARGV[2]  lock TTL in ms (only matters if the holder dies)
--
-- Returns  1 acquired · 0 segment empty (not locked) · -1 held by someone else · -2 segment missing

local stock = redis.call('GET', KEYS[1])
if not stock then
  return -2
end
if tonumber(stock) <= 0 then
  return 0
end
if redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then
  return 1
end
return -1
