-- Prepended to every budget script. KEYS is always one server's two structures, in this order:
local SLOTS = KEYS[1]  -- ZSET holder token -> lease expiry (Unix seconds, Redis server clock)
local PAUSE = KEYS[2]  -- STRING pause-until (Unix seconds), expiring with the pause

-- The server's clock, so processes on machines with skewed clocks agree on leases and pauses.
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- Slots whose holder died (its lease ran out) come back here, before any count.
local function reclaim(at)
  redis.call('ZREMRANGEBYSCORE', SLOTS, '-inf', at)
end

-- A budget nobody uses leaves nothing behind.
local function keep_for(lease)
  redis.call('PEXPIRE', SLOTS, math.ceil(lease * 1000))
end

local function paused_for(at)
  local until_at = tonumber(redis.call('GET', PAUSE) or '0')
  return math.max(0, until_at - at)
end
