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
if string.byte(record, 2) == 67 then -- 'C': {hash}\n{created}\n{status}\n{headers length}\n...
  local hashEnd = string.find(record, '\n', 3, true)
  local createdEnd = string.find(record, '\n', hashEnd + 1, true)
  local statusEnd = string.find(record, '\n', createdEnd + 1, true)
  local lengthEnd = string.find(record, '\n', statusEnd + 1, true)
  return {2, string.sub(record, 3, hashEnd - 1),
          now - tonumber(string.sub(record, hashEnd + 1, createdEnd - 1)),
          redis.call('PTTL', KEYS[1]), tonumber(string.sub(record, createdEnd + 1, statusEnd - 1)),
          #record - lengthEnd - tonumber(string.sub(record, statusEnd + 1, lengthEnd - 1))}
end
-- In flight: {token}\n{hash}\n{created}\n{locked}\n{lock timeout}
local tokenEnd = string.find(record, '\n', 3, true)
local hashEnd = string.find(record, '\n', tokenEnd + 1, true)
local createdEnd = string.find(record, '\n', hashEnd + 1, true)
local lockedEnd = string.find(record, '\n', createdEnd + 1, true)
local locked = tonumber(string.sub(record, createdEnd + 1, lockedEnd - 1))
local expires = tonumber(string.sub(record, lockedEnd + 1))
if expires < 1e12 then -- the lock timeout; an earlier build's record holds the expiry itself
  expires = locked + expires
end
return {1, string.sub(record, tokenEnd + 1, hashEnd - 1),
        now - tonumber(string.sub(record, hashEnd + 1, createdEnd - 1)),
        now - locked, expires - now}
