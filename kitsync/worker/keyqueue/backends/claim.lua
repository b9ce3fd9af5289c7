-- ARGV: key, owner, lease seconds. Returns 'granted', 'busy' or 'not_queued'.
local key, owner = ARGV[1], ARGV[2]
local at = now()
local holder = redis.call('HGET', OWNER, key)
if holder then
  if holder ~= owner and tonumber(redis.call('ZSCORE', LEASE, key)) > at then
    return 'busy'
  end
elseif redis.call('ZREM', QUEUED, key) == 0 then
  return 'not_queued'
end
redis.call('HSET', OWNER, key, owner)
redis.call('ZADD', LEASE, at + tonumber(ARGV[3]), key)
redis.call('ZADD', SINCE, at, key)
redis.call('SREM', DIRTY, key)
redis.call('HINCRBY', ATTEMPTS, key, 1)
return 'granted'
