-- A first-time request's Redis work in one script, as acquire.lua and complete.lua do it:
-- GET (no record), TIME, SET the in-flight record; GET it, SET the completed record.
-- KEYS[1] record   ARGV: request hash, token, lock ms, TTL ms, response fields
local record = redis.pcall('GET', KEYS[1])
local time = redis.call('TIME')
local now = time[1] .. string.sub('00000' .. time[2], -6, -4)
redis.call('SET', KEYS[1],
           '-L' .. ARGV[2] .. '\n' .. ARGV[1] .. '\n' .. now .. '\n' .. now .. '\n' .. ARGV[3],
           'PX', ARGV[4])
record = redis.pcall('GET', KEYS[1])
local hashStart = 4 + #ARGV[2]
local createdEnd = string.find(record, '\n', string.find(record, '\n', hashStart, true) + 1, true)
redis.call('SET', KEYS[1],
           string.sub(record, 1, 1) .. 'C' .. string.sub(record, hashStart, createdEnd) .. ARGV[5],
           'PX', ARGV[4])
return 1
