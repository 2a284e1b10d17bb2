-- Claims one key for one execution (SPEC §5), judged by the Redis server's clock.
-- KEYS[1] record   ARGV: request hash, new token, lock timeout ms,
--                  record TTL ms (the longer of the lock timeout and the retention)
-- Reply: 0 acquired | 1 acquired, the dead owner's stale lock taken over | -1 mismatch
--        {1, ms until the lock expires} in flight
--        the record itself (one bulk string) completed
-- A record is one string (RedisStore's javadoc has the layout), read with one GET: half the
-- memory of a hash, whose body field (over 64 bytes) makes Redis convert it to a hash table.
-- TIME only when a lock must be judged or written.
-- Any other type at the key (a hash left by a build before this layout) counts as no record,
-- and the claim's SET replaces it.

-- TIME's reply as milliseconds, by string operations: Lua turns a number into text with
-- sprintf: a claim that formatted its times so took ~15 % more Redis time (docs/BENCHMARKS.md).
local function millis(time)
  return time[1] .. string.sub('00000' .. time[2], -6, -4)
end

-- When an in-flight record's lock expires: locked + lock timeout, its last two fields. Earlier
-- builds wrote the expiry itself in place of the timeout (ms since 1970: over 10^12).
local function lockExpires(record)
  local locked, lock = string.match(record, '(%d+)\n(%d+)$')
  lock = tonumber(lock)
  if lock >= 1e12 then
    return lock
  end
  return tonumber(locked) + lock
end

local record = redis.pcall('GET', KEYS[1])
if type(record) ~= 'string' then
  record = false
end
local mark = '-'
local recovered = 0
local time
-- 80 = 'P': a watch's placeholder, no record yet; the claim keeps its mark.
if record and string.byte(record, 2) ~= 80 then
  if string.byte(record, 2) == 67 then -- 'C': completed, the request hash first
    if string.sub(record, 3, 3 + #ARGV[1]) ~= ARGV[1] .. '\n' then
      return -1
    end
    return record
  end
  -- In flight: the token, then the request hash.
  local hashStart = string.find(record, '\n', 3, true) + 1
  local sameRequest = string.sub(record, hashStart, hashStart + #ARGV[1]) == ARGV[1] .. '\n'
  time = redis.call('TIME')
  local now = tonumber(millis(time))
  local expires = lockExpires(record)
  if expires > now then
    if not sameRequest then
      return -1
    end
    return {1, expires - now}
  end
  -- The owner's lock went stale (it died): take over with the caller's token.
  recovered = 1
  mark = string.sub(record, 1, 1)
else
  if record then
    mark = string.sub(record, 1, 1)
  end
  time = redis.call('TIME')
end
-- A write after TIME needs effects replication: the default on Redis 7, switched on for 6.x,
-- where it may be switched on at any point before the first write. The read-only answers above
-- do not pay for the call.
redis.replicate_commands()
local now = millis(time)
-- The record outlives its lock, so a slow owner nobody took over can still complete.
redis.call('SET', KEYS[1],
           mark .. 'L' .. ARGV[2] .. '\n' .. ARGV[1] .. '\n' .. now .. '\n' .. now .. '\n'
             .. ARGV[3],
           'PX', ARGV[4])
return recovered
