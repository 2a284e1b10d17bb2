-- Marks a record as waited on, so complete.lua and release.lua publish when it is finished.
-- With no record yet, leaves a placeholder (only the mark, for ARGV[1] ms) that acquire.lua
-- treats as no record and keeps when it claims the key, so the next owner's completion is
-- announced too.
-- KEYS[1] record   ARGV: placeholder lifetime ms
-- Reply: 1
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'w', 1)
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 1
end
redis.call('HSET', KEYS[1], 'w', 1)
return 1
