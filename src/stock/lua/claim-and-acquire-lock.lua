-- claim-and-acquire-lock: segmented-lock's acquire when buyers ride with it on their home segment (the segment whose
-- slot also holds their buyers shard): claim each user (one purchase per user and item), then lock the segment for
-- this round unless it is empty or nobody would take under the lock. The lock is still held across a round trip:
-- the take (fenced-take-and-unlock) is a second script, checked against this token, and takes for every rider of
-- the round. Idempotent per reservation: a re-sent copy finds its own claims (the lock it may have taken expires on
-- its TTL).
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock   (missing = Redis lost this segment; rebuild it)
-- KEYS[2]  segment lock            sk:{i<item>:s<n>}:lock
-- KEYS[3]  buyers shard            sk:{i<item>:s<n>}:buyers
-- ARGV[1]  random token of the caller
-- ARGV[2]  lock TTL in ms (only matters if the holder dies)
-- ARGV[3]  how many riders, already claimed, wait for this lock too
-- ARGV[4…] user id, reservation: one pair per buyer to claim, in arrival order
--
-- Returns  {lock, claimed per pair}. lock: 1 locked · 0 segment empty (not locked) · -1 held by someone else ·
--          -2 segment missing (nothing done, nothing claimed) · -3 nobody to take for (every pair's user held by
--          another reservation and no rider waiting: not locked). claimed: 1 claimed (now or by an earlier copy of
--          this reservation) · 0 the user is held by another reservation

local stock = redis.call('GET', KEYS[1])
if not stock then
  return { -2 }
end
local reply = { 0 }
local takers = tonumber(ARGV[3])
for i = 4, #ARGV, 2 do
  local owner = redis.call('HGET', KEYS[3], ARGV[i])
  if owner and owner ~= ARGV[i + 1] then
    reply[#reply + 1] = 0
  else
    redis.call('HSET', KEYS[3], ARGV[i], ARGV[i + 1])
    reply[#reply + 1] = 1
    takers = takers + 1
  end
end
if takers == 0 then
  reply[1] = -3
elseif tonumber(stock) <= 0 then
  reply[1] = 0
elseif redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2], 'NX') then
  reply[1] = 1
else
  reply[1] = -1
end
return reply
