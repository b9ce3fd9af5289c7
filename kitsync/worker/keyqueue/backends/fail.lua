-- ARGV: key, owner, error, retry seconds ('' = dead letter).
-- Returns 1 when the key is QUEUED again (the caller schedules a task), else 0.
local key, retry_in = ARGV[1], ARGV[4]
if redis.call('HGET', OWNER, key) ~= ARGV[2] then
  return 0
end
local at = now()
release(key)
if retry_in ~= '' then
  redis.call('SREM', DIRTY, key)  -- the retry is the one more run
  redis.call('ZADD', QUEUED, at + tonumber(retry_in), key)
  return 1
end
local attempts = tonumber(redis.call('HGET', ATTEMPTS, key) or '0')
redis.call('HDEL', ATTEMPTS, key)
redis.call('HSET', DEAD, key, cjson.encode({error = ARGV[3], failed_at = at, attempts = attempts}))
return requeue_if_dirty(key, at)
