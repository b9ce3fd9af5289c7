-- ARGV: key, owner, lease seconds, early slack seconds.
-- Returns 'granted', 'busy', 'not_due' or 'not_queued'.
local key, owner = ARGV[1], ARGV[2]
local at = now()
local holder = redis.call('HGET', OWNER, key)
if holder then
  if holder ~= owner and tonumber(redis.call('ZSCORE', LEASE, key)) > at then
    return 'busy'
  end
else
  local due = redis.call('ZSCORE', QUEUED, key)
  if not due then
    return 'not_queued'
  end
  if tonumber(due) > at + tonumber(ARGV[4]) then
    return 'not_due'
  end
  redis.call('ZREM', QUEUED, key)
end
redis.call('HSET', OWNER, key, owner)
redis.call('ZADD', LEASE, at + tonumber(ARGV[3]), key)
redis.call('ZADD', SINCE, at, key)
redis.call('SREM', DIRTY, key)
redis.call('HINCRBY', ATTEMPTS, key, 1)
return 'granted'
