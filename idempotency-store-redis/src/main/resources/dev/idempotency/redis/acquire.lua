-- Claims one key for one execution (SPEC §5), judged by the Redis server's clock.
-- KEYS[1] record   ARGV: request hash, new token, lock timeout ms,
--                  record TTL ms (the longer of the lock timeout and the retention)
-- Reply: 0 acquired | 1 acquired, the dead owner's stale lock taken over | -1 mismatch
--        {1, ms until the lock expires} in flight
--        {hash, status, lock expiry, headers, body} completed: the record as HMGET read it
-- One HMGET reads everything a replay needs; TIME only when a lock must be judged or written.
-- The hot answers are cheap to send: a bare integer, or the HMGET reply as it is (no new table).
local record = redis.call('HMGET', KEYS[1], 'h', 's', 'e', 'hd', 'b')
local recovered = 0
local now
if record[1] then
  if record[2] then
    if record[1] ~= ARGV[1] then
      return -1
    end
    return record
  end
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local expires = tonumber(record[3])
  if expires > now then
    if record[1] ~= ARGV[1] then
      return -1
    end
    return {1, expires - now}
  end
  -- The owner's lock went stale (it died): take over with the caller's token.
  recovered = 1
else
  local time = redis.call('TIME')
  now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
-- A write after TIME needs effects replication: the default on Redis 7, switched on for 6.x,
-- where it may be switched on at any point before the first write. The read-only answers above
-- do not pay for the call.
redis.replicate_commands()
-- Each Lua number handed to redis.call is formatted again by Redis: the time once, the TTL not.
local stamp = tostring(now)
redis.call('HSET', KEYS[1], 'h', ARGV[1], 't', ARGV[2], 'c', stamp, 'l', stamp,
           'e', tostring(now + tonumber(ARGV[3])))
-- The record outlives its lock, so a slow owner nobody took over can still complete.
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return recovered
