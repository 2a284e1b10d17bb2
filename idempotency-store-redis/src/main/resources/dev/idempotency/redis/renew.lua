-- Extends a live owner's lock to a full lock timeout from now (lease renewal), by server time.
-- KEYS[1] record   ARGV: token, lock timeout ms
-- Reply: 1 renewed | 0 the token does not own the key
local record = redis.pcall('GET', KEYS[1]) -- another type: not owned, as no record
-- Owned: in flight (L) and the token, its first field, is ARGV[1].
if type(record) ~= 'string' or string.sub(record, 2, 3 + #ARGV[1]) ~= 'L' .. ARGV[1] .. '\n' then
  return 0
end
-- TIME then a write: effects replication (the default on Redis 7, switched on for 6.x), called
-- only once a write will follow.
redis.replicate_commands()
local time = redis.call('TIME')
local now = time[1] .. string.sub('00000' .. time[2], -6, -4) -- milliseconds, as acquire.lua
local hashEnd = string.find(record, '\n', 4 + #ARGV[1], true)
local createdEnd = string.find(record, '\n', hashEnd + 1, true)
-- {created} kept; {locked} now; {lock timeout} this renewal's
local renewed = string.sub(record, 1, createdEnd) .. now .. '\n' .. ARGV[2]
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], renewed, 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], renewed, 'KEEPTTL')
end
return 1
