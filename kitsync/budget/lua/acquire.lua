-- ARGV: holder token, limit, lease seconds.
-- Returns {'granted'}, {'full'} or {'paused', seconds left as a string}.
local at = now()
local pause = paused_for(at)
if pause > 0 then
  return {'paused', tostring(pause)}
end
reclaim(at)
if redis.call('ZCARD', SLOTS) >= tonumber(ARGV[2]) then
  return {'full'}
end
redis.call('ZADD', SLOTS, at + tonumber(ARGV[3]), ARGV[1])
keep_for(tonumber(ARGV[3]))
return {'granted'}
