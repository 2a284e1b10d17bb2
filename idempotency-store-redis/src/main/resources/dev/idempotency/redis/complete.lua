-- Stores the response if the token still owns the in-flight record, then wakes waiters.
-- KEYS[1] record   ARGV: token, status, headers, body, retention ms, notification channel
-- Reply: 1 stored | 0 the token does not own the key
-- The lock fields (t, l, e) stay: a record with a status is completed whatever they say.
-- Only a record some JVM waits on (w, set by watch.lua) costs a PUBLISH.
local record = redis.call('HMGET', KEYS[1], 't', 's', 'w')
if record[1] ~= ARGV[1] or record[2] then
  return 0
end
redis.call('HSET', KEYS[1], 's', ARGV[2], 'hd', ARGV[3], 'b', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if record[3] then
  redis.call('PUBLISH', ARGV[6], 'c')
end
return 1
