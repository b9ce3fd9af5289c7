-- ARGV: older than (seconds). Returns the keys whose task looks lost, now QUEUED and due now.
local at = now()
local cutoff = at - tonumber(ARGV[1])
local lost = redis.call('ZRANGEBYSCORE', QUEUED, '-inf', cutoff)
for _, key in ipairs(lost) do
  redis.call('ZADD', QUEUED, at, key)
end
for _, key in ipairs(redis.call('ZRANGEBYSCORE', LEASE, '-inf', cutoff)) do
  release(key)
  redis.call('SREM', DIRTY, key)
  redis.call('ZADD', QUEUED, at, key)
  lost[#lost + 1] = key
end
return lost
