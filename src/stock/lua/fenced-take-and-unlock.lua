-- fenced-take-and-unlock: take one unit per reservation from a segment, for the lock's holder and every buyer of its
-- process riding with it (combining under the lock), but only while the caller still holds the segment's lock, and
-- release that lock in the same step (the take is the whole critical section, so unlocking here saves a round trip).
-- Reservations are served in the order given until the segment is empty; the rest are told so and walk on. The
-- fencing check is what stops a holder whose lock expired (GC pause, slow network) from selling a unit that the
-- lock's next holder may also be selling. Idempotent per reservation: a re-sent copy takes nothing more (its lock is
-- gone; the reservations it took are found in the held set).
--
-- KEYS[1]  segment stock counter   sk:{i<item>:s<n>}:stock
-- KEYS[2]  segment lock            sk:{i<item>:s<n>}:lock
-- KEYS[3]  segment reservations    sk:{i<item>:s<n>}:held
-- KEYS[4]  segment change counter  sk:{i<item>:s<n>}:ops   (raised by one per unit taken, as every take counts)
-- ARGV[1]  the caller's lock token
-- ARGV[2]  now, in ms
-- ARGV[3…] reservations, the holder's and its riders', in arrival order
--
-- Returns  one code per reservation, in order: 1 taken (now or by an earlier copy) · 0 segment empty · -1 lock not
--          held by this token (nothing taken for it) · -2 segment missing
--          (the lock is released in every case where this token held it)

local held = redis.call('GET', KEYS[2]) == ARGV[1]
if held then
  redis.call('DEL', KEYS[2])
end
local stock = redis.call('GET', KEYS[1])
local left = tonumber(stock or '0')
local taken = 0
local replies = {}
for i = 3, #ARGV do
  local code
  if redis.call('ZSCORE', KEYS[3], ARGV[i]) then
    code = 1
  elseif not held then
    code = -1
  elseif not stock then
    code = -2
  elseif taken >= left then
    code = 0
  else
    redis.call('ZADD', KEYS[3], ARGV[2], ARGV[i])
    taken = taken + 1
    code = 1
  end
  replies[#replies + 1] = code
end
if taken > 0 then
  redis.call('DECRBY', KEYS[1], taken)
  redis.call('INCRBY', KEYS[4], taken)
end
return replies
