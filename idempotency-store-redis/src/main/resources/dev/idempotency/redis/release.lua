-- Deletes the in-flight record if the token still owns it, then wakes waiters.
-- KEYS[1] record   ARGV: token, notification channel
-- Reply: 1 released | 0 the token does not own the key
local record = redis.call('HMGET', KEYS[1], 't', 's', 'w')
if record[1] ~= ARGV[1] or record[2] then
  return 0
end
redis.call('DEL', KEYS[1])
if record[3] then
  redis.call('PUBLISH', ARGV[2], 'r')
end
return 1
