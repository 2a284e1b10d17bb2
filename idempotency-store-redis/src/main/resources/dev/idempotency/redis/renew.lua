-- Extends a live owner's lock to a full lock timeout from now (lease renewal), by server time.
-- KEYS[1] record   ARGV: token, lock timeout ms
-- Reply: 1 renewed | 0 the token does not own the key
local record = redis.call('HMGET', KEYS[1], 't', 's')
if record[1] ~= ARGV[1] or record[2] then
  return 0
end
-- TIME then a write: effects replication (the default on Redis 7, switched on for 6.x), called
-- only once a write will follow.
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local lock = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], 'l', now, 'e', now + lock)
if redis.call('PTTL', KEYS[1]) < lock then
  redis.call('PEXPIRE', KEYS[1], lock)
end
return 1
