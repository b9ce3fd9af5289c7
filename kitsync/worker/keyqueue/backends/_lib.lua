-- Prepended to every key-queue script. KEYS is always the queue's seven structures, in this order:
local QUEUED = KEYS[1]    -- ZSET key -> due at (Unix seconds, Redis server clock)
local OWNER = KEYS[2]     -- HASH key -> owner; a field here means PROCESSING
local LEASE = KEYS[3]     -- ZSET key -> lease expiry
local SINCE = KEYS[4]     -- ZSET key -> claimed at
local DIRTY = KEYS[5]     -- SET of PROCESSING keys triggered during their run
local ATTEMPTS = KEYS[6]  -- HASH key -> claims granted since the last done / dead letter
local DEAD = KEYS[7]      -- HASH key -> JSON {error, failed_at, attempts}

-- The server's clock, so workers on machines with skewed clocks agree on lease expiry.
local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- add() for one key; true when the caller must schedule a task for it.
local function enqueue(key, at)
  if redis.call('HEXISTS', OWNER, key) == 1 then
    redis.call('SADD', DIRTY, key)
    return false
  end
  if redis.call('ZSCORE', QUEUED, key) then
    return false
  end
  redis.call('ZADD', QUEUED, at, key)
  return true
end

local function release(key)
  redis.call('HDEL', OWNER, key)
  redis.call('ZREM', LEASE, key)
  redis.call('ZREM', SINCE, key)
end

local function requeue_if_dirty(key, at)
  if redis.call('SREM', DIRTY, key) == 1 then
    redis.call('ZADD', QUEUED, at, key)
    return 1
  end
  return 0
end

-- ARGV[1] = '*' for every dead letter, else '' followed by the keys; returns those taken.
local function take_dead()
  local chosen = {}
  if ARGV[1] == '*' then
    chosen = redis.call('HKEYS', DEAD)
  else
    for i = 2, #ARGV do
      if redis.call('HEXISTS', DEAD, ARGV[i]) == 1 then
        chosen[#chosen + 1] = ARGV[i]
      end
    end
  end
  for _, key in ipairs(chosen) do
    redis.call('HDEL', DEAD, key)
  end
  return chosen
end
