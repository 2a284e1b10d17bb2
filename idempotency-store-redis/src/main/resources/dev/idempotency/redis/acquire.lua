-- Claims one key for one execution (SPEC §5), judged by the Redis server's clock.
-- KEYS[1] record   ARGV: request hash, new token, lock timeout ms, retention ms
-- Reply: {0, recovered} acquired | {1, ms until the lock expires} in flight
--        {2, status, headers, body} completed | {3} mismatch
-- TIME before writes needs effects replication: the default on Redis 7, switched on for 6.x.
redis.replicate_commands()
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local record = redis.call('HMGET', KEYS[1], 'h', 's', 'e')
local recovered = 0
if record[1] then
  if record[2] then
    if record[1] ~= ARGV[1] then
      return {3}
    end
    local response = redis.call('HMGET', KEYS[1], 'hd', 'b')
    return {2, tonumber(record[2]), response[1], response[2]}
  end
  local expires = tonumber(record[3])
  if expires > now then
    if record[1] ~= ARGV[1] then
      return {3}
    end
    return {1, expires - now}
  end
  -- The owner's lock went stale (it died): take over with the caller's token.
  recovered = 1
end
local lock = tonumber(ARGV[3])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 't', ARGV[2], 'c', now, 'l', now, 'e', now + lock)
-- The record outlives its lock, so a slow owner nobody took over can still complete.
redis.call('PEXPIRE', KEYS[1], math.max(lock, tonumber(ARGV[4])))
return {0, recovered}
