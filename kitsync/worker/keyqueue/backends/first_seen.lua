-- KEYS: one "seen" marker per id; ARGV: ttl seconds, then the ids. Returns the ids not seen.
-- Standalone: not prepended with _lib.lua, its KEYS are not the queue's structures.
local fresh = {}
for i = 1, #KEYS do
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    fresh[#fresh + 1] = ARGV[i + 1]
  end
end
return fresh
