-- Returns {queued, dirty, dead, retrying, key, owner, age, expires_in, ...}; times as strings
-- because Redis truncates Lua numbers to integers. Retrying: queued keys that failed before
-- (their attempts count since the last done is kept until then).
local at = now()
local retrying = 0
for _, key in ipairs(redis.call('HKEYS', ATTEMPTS)) do
  if redis.call('ZSCORE', QUEUED, key) then
    retrying = retrying + 1
  end
end
local reply = {
  redis.call('ZCARD', QUEUED), redis.call('SCARD', DIRTY), redis.call('HLEN', DEAD), retrying
}
local owners = redis.call('HGETALL', OWNER)
for i = 1, #owners, 2 do
  local key = owners[i]
  reply[#reply + 1] = key
  reply[#reply + 1] = owners[i + 1]
  reply[#reply + 1] = tostring(at - tonumber(redis.call('ZSCORE', SINCE, key)))
  reply[#reply + 1] = tostring(tonumber(redis.call('ZSCORE', LEASE, key)) - at)
end
return reply
