-- Returns {slots held, seconds left of a pause as a string}.
local at = now()
reclaim(at)
return {redis.call('ZCARD', SLOTS), tostring(paused_for(at))}
