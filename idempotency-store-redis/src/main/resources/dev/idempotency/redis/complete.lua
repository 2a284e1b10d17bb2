-- Stores the response if the token still owns the in-flight record, then wakes waiters.
-- KEYS[1] record   ARGV: token, status, headers, body, retention ms, notification channel
-- Reply: 1 stored | 0 the token does not own the key
-- The completed record keeps the mark, the request hash and the creation time.
-- Only a record some JVM waits on (mark w, set by watch.lua) costs a PUBLISH.
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
redis.call('SET', KEYS[1],
           string.sub(record, 1, 1) .. 'C' .. string.sub(record, 3, createdEnd) .. ARGV[2] .. '\n'
             .. #ARGV[3] .. '\n' .. ARGV[3] .. ARGV[4],
           'PX', ARGV[5])
if string.byte(record, 1) == 119 then -- 'w'
  redis.call('PUBLISH', ARGV[6], 'c')
end
return 1
