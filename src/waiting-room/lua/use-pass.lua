-- use-pass: an admission pass is good for one purchase. The pass itself (signed, bound to user, sale and ticket,
-- with its expiry) is checked before this; here it is spent: marked used and its place freed for the inlet.
-- A pass issued before Redis lost the room is honoured once after it (the used set starts empty again); the
-- purchase's one-order-per-user claim still stands behind it.
--
-- KEYS[1]  spent passes           wr:{r<item>}:used
-- KEYS[2]  unfinished admissions  wr:{r<item>}:inflight
-- ARGV[1]  ticket
--
-- Returns  1 spent now · 0 spent before

if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
