-- Deletes the in-flight record if the token still owns it, then wakes waiters.
-- KEYS[1] record   ARGV: token, notification channel
-- Reply: 1 released | 0 the token does not own the key
local record = redis.pcall('GET', KEYS[1]) -- another type: not owned, as no record
if type(record) ~= 'string' or string.byte(record, 2) ~= 76 then -- 76 = 'L': in flight
  return 0
end
local hashEnd = string.find(record, '\n', 3, true)
local createdEnd = string.find(record, '\n', hashEnd + 1, true)
local tokenEnd = string.find(record, '\n', createdEnd + 1, true)
if string.sub(record, createdEnd + 1, tokenEnd - 1) ~= ARGV[1] then
  return 0
end
redis.call('DEL', KEYS[1])
if string.byte(record, 1) == 119 then -- 'w'
  redis.call('PUBLISH', ARGV[2], 'r')
end
return 1
