-- Stores the response if the token still owns the in-flight record, then wakes waiters.
-- KEYS[1] record   ARGV: token, the response ({status}\n{headers length}\n{headers}{body}),
--                  retention ms, notification channel
-- Reply: 1 stored | 0 the token does not own the key
-- The completed record keeps the mark, the request hash and the creation time. The client
-- writes the response's fields, so the script turns no number into text (sprintf in Lua).
-- Only a record some JVM waits on (mark w, set by watch.lua) costs a PUBLISH.
local record = redis.pcall('GET', KEYS[1]) -- another type: not owned, as no record
-- Owned: in flight (L) and the token, its first field, is ARGV[1].
if type(record) ~= 'string' or string.sub(record, 2, 3 + #ARGV[1]) ~= 'L' .. ARGV[1] .. '\n' then
  return 0
end
local hashStart = 4 + #ARGV[1]
local createdEnd = string.find(record, '\n', string.find(record, '\n', hashStart, true) + 1, true)
redis.call('SET', KEYS[1],
           string.sub(record, 1, 1) .. 'C' .. string.sub(record, hashStart, createdEnd) .. ARGV[2],
           'PX', ARGV[3])
if string.byte(record, 1) == 119 then -- 'w'
  redis.call('PUBLISH', ARGV[4], 'c')
end
return 1
