-- ARGV: keys. Returns the keys that became QUEUED.
local at = now()
local scheduled = {}
for i = 1, #ARGV do
  if enqueue(ARGV[i], at) then
    scheduled[#scheduled + 1] = ARGV[i]
  end
end
return scheduled
