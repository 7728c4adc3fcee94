-- give-pass-back: the purchase a pass was spent on could not be decided (busy: the stock or the database was
-- away), so the visitor keeps the turn: the pass is good again until it expires.
--
-- KEYS[1]  spent passes           wr:{r<item>}:used
-- KEYS[2]  unfinished admissions  wr:{r<item>}:inflight
-- ARGV[1]  ticket
-- ARGV[2]  the pass's expiry, ms
--
-- Returns  1

redis.call('SREM', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
return 1
