-- Describes a record for operators, never its body. Read-only.
-- KEYS[1] record
-- Reply: {} none | {1, hash, age ms, lock age ms, ms until the lock expires} in flight
--        {2, hash, age ms, ms until the record expires, status, body bytes} completed
local record = redis.pcall('GET', KEYS[1]) -- another type: no record
if type(record) ~= 'string' or string.byte(record, 2) == 80 then -- 80 = 'P': a placeholder
  return {}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local hashEnd = string.find(record, '\n', 3, true)
local createdEnd = string.find(record, '\n', hashEnd + 1, true)
local hash = string.sub(record, 3, hashEnd - 1)
local age = now - tonumber(string.sub(record, hashEnd + 1, createdEnd - 1))
-- The next two fields: token and lock time in flight, status and headers length completed.
local secondEnd = string.find(record, '\n', createdEnd + 1, true)
local thirdEnd = string.find(record, '\n', secondEnd + 1, true)
local third = tonumber(string.sub(record, secondEnd + 1, thirdEnd - 1))
if string.byte(record, 2) == 67 then -- 'C': completed
  return {2, hash, age, redis.call('PTTL', KEYS[1]),
          tonumber(string.sub(record, createdEnd + 1, secondEnd - 1)),
          #record - thirdEnd - third}
end
return {1, hash, age, now - third, tonumber(string.sub(record, thirdEnd + 1)) - now}
