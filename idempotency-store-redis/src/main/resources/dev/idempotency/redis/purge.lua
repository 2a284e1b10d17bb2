-- Deletes whatever is held for a key, for operators, then wakes waiters.
-- KEYS[1] record   ARGV: notification channel
-- Reply: 1 deleted | 0 nothing was there
if redis.call('DEL', KEYS[1]) == 0 then
  return 0
end
redis.call('PUBLISH', ARGV[1], 'p')
return 1
