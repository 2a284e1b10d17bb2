-- The same with the lock timed by the record's TTL instead of TIME: the claim is one
-- SET … NX GET (Redis 7.0+); the complete reads PTTL to keep the record's age.
local claimed = redis.pcall('SET', KEYS[1],
                            '-L' .. ARGV[2] .. '\n' .. ARGV[1] .. '\n' .. ARGV[4] .. '\n'
                              .. ARGV[3] .. '\n0',
                            'NX', 'GET', 'PX', ARGV[4])
local record = redis.pcall('GET', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
local hashStart = 4 + #ARGV[2]
local hashEnd = string.find(record, '\n', hashStart, true)
redis.call('SET', KEYS[1],
           string.sub(record, 1, 1) .. 'C' .. string.sub(record, hashStart, hashEnd)
             .. (ARGV[4] - ttl) .. '\n' .. ARGV[5],
           'PX', ARGV[4])
return 1
