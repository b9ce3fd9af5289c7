-- Returns {queued, dirty, dead, key, owner, age, expires_in, ...}; times as strings because
-- Redis truncates Lua numbers to integers.
local at = now()
local reply = {redis.call('ZCARD', QUEUED), redis.call('SCARD', DIRTY), redis.call('HLEN', DEAD)}
local owners = redis.call('HGETALL', OWNER)
for i = 1, #owners, 2 do
  local key = owners[i]
  reply[#reply + 1] = key
  reply[#reply + 1] = owners[i + 1]
  reply[#reply + 1] = tostring(at - tonumber(redis.call('ZSCORE', SINCE, key)))
  reply[#reply + 1] = tostring(tonumber(redis.call('ZSCORE', LEASE, key)) - at)
end
return reply
