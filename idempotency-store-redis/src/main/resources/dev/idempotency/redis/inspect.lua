-- Describes a record for operators, never its body. Read-only.
-- KEYS[1] record
-- Reply: {} none | {1, hash, age ms, lock age ms, ms until the lock expires} in flight
--        {2, hash, age ms, ms until the record expires, status, body bytes} completed
local record = redis.call('HMGET', KEYS[1], 'h', 's', 'c', 'l', 'e')
if not record[1] then
  return {}
end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local age = now - tonumber(record[3])
if record[2] then
  return {2, record[1], age, redis.call('PTTL', KEYS[1]), tonumber(record[2]),
          redis.call('HSTRLEN', KEYS[1], 'b')}
end
return {1, record[1], age, now - tonumber(record[4]), tonumber(record[5]) - now}
