-- ARGV: key. Returns seconds until the QUEUED key is due (Redis's clock), as a string, or nil.
local due = redis.call('ZSCORE', QUEUED, ARGV[1])
if not due then
  return nil
end
return tostring(tonumber(due) - now())
