-- ARGV: holder token, lease seconds. Returns 1 when renewed, 0 when the slot was lost (its lease
-- ran out and was reclaimed, or Redis restarted without it).
if not redis.call('ZSCORE', SLOTS, ARGV[1]) then
  return 0
end
redis.call('ZADD', SLOTS, 'XX', now() + tonumber(ARGV[2]), ARGV[1])
keep_for(tonumber(ARGV[2]))
return 1
