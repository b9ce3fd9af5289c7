-- ARGV: key, owner, lease seconds. Returns 1 when renewed, 0 when the owner lost the key.
if redis.call('HGET', OWNER, ARGV[1]) ~= ARGV[2] then
  return 0
end
redis.call('ZADD', LEASE, now() + tonumber(ARGV[3]), ARGV[1])
return 1
