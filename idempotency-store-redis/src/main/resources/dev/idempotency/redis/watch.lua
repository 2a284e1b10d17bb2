-- Marks a record as waited on, so complete.lua and release.lua publish when it is finished.
-- With no record yet, leaves a placeholder (the mark and state P, for ARGV[1] ms) that
-- acquire.lua treats as no record and keeps the mark of when it claims the key, so the next
-- owner's completion is announced too.
-- KEYS[1] record   ARGV: placeholder lifetime ms
-- Reply: 1
if not redis.call('SET', KEYS[1], 'wP', 'NX', 'PX', ARGV[1]) then
  -- The mark is the record's first byte; SETRANGE keeps the TTL. Another type at the key (a
  -- hash of builds before this layout) counts as no record: a placeholder replaces it.
  if type(redis.pcall('SETRANGE', KEYS[1], 0, 'w')) ~= 'number' then
    redis.call('SET', KEYS[1], 'wP', 'PX', ARGV[1])
  end
end
return 1
