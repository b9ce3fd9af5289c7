-- ARGV: key, owner. Returns 1 when the key was dirty and is QUEUED again, else 0.
local key = ARGV[1]
if redis.call('HGET', OWNER, key) ~= ARGV[2] then
  return 0
end
release(key)
redis.call('HDEL', ATTEMPTS, key)
redis.call('HDEL', DEAD, key)
return requeue_if_dirty(key, now())
