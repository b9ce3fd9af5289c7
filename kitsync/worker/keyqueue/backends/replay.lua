-- ARGV: see take_dead. Returns the replayed keys that became QUEUED.
local at = now()
local scheduled = {}
for _, key in ipairs(take_dead()) do
  if enqueue(key, at) then
    scheduled[#scheduled + 1] = key
  end
end
return scheduled
