-- ARGV: seconds. No slot is granted until then; a longer pause already set stands.
local at = now()
local until_at = at + tonumber(ARGV[1])
if until_at > at + paused_for(at) then
  redis.call('SET', PAUSE, tostring(until_at), 'PX', math.ceil(tonumber(ARGV[1]) * 1000))
end
return 1
