-- Deletes the in-flight record if the token still owns it, then wakes waiters.
-- KEYS[1] record   ARGV: token, notification channel
-- Reply: 1 released | 0 the token does not own the key
local record = redis.pcall('GET', KEYS[1]) -- another type: not owned, as no record
-- Owned: in flight (L) and the token, its first field, is ARGV[1].
if type(record) ~= 'string' or string.sub(record, 2, 3 + #ARGV[1]) ~= 'L' .. ARGV[1] .. '\n' then
  return 0
end
redis.call('DEL', KEYS[1])
if string.byte(record, 1) == 119 then -- 'w'
  redis.call('PUBLISH', ARGV[2], 'r')
end
return 1
