-- Admit one request against every limit of one account, in one atomic call.
-- The same arithmetic as MemoryStore.admit_now and proxy/limits.py (gcra):
-- check every limit first, and reserve on all of them only if all pass.
--
-- KEYS (one hash tag, so one cluster slot):
--   1 gcra hash  (fields req, tok: the request and token TATs)
--   2 day counter   (tokens used on the UTC day of ARGV[1])
--   3 month counter (tokens used in the UTC month of ARGV[1])
--   4 lease zset    (lease id -> expiry)
-- ARGV (numbers as decimal strings; "" means unlimited):
--   1 now            2 cost               3 lease id         4 lease ttl (s)
--   5 day_left (s)   6 month_left (s)     7 requests/min     8 tokens/min
--   9 tokens/day    10 tokens/month      11 concurrency     12 concurrency retry (s)
--  13 gcra ttl margin (s)
-- Time comes from the caller, never from TIME, so a virtual clock replays exactly.
--
-- Returns {allowed 0|1, too_large 0|1, request TAT, token TAT (after the call),
--          then one wait per limit in LIMIT_ORDER: concurrency, requests/min,
--          tokens/min, tokens/day, tokens/month (false: that limit passed)}.
-- Fractions go back as strings: Redis would truncate a Lua number to an integer.

local WINDOW = 60.0
local DAY = 86400.0

-- 17 significant digits: a double survives the trip to Python unchanged.
local function fmt(x)
  return string.format('%.17g', x)
end

-- Integers as plain digits: tostring() would switch to exponent form past 1e14.
local function int(x)
  return string.format('%d', x)
end

local function gcra(tat, now, cost, per_minute)
  local interval = WINDOW / per_minute
  local new_tat = math.max(tat, now) + cost * interval
  local over = new_tat - now - WINDOW
  if over > 1e-6 then
    return false, tat, over
  end
  return true, new_tat, 0
end

local now = tonumber(ARGV[1])
local cost = tonumber(ARGV[2])
local lease_ttl = tonumber(ARGV[4])
local rpm = tonumber(ARGV[7])
local tpm = tonumber(ARGV[8])
local tpd = tonumber(ARGV[9])
local tpmo = tonumber(ARGV[10])
local concurrency = tonumber(ARGV[11])
local margin = tonumber(ARGV[13])

local waits = {false, false, false, false, false}
local refused = false
local too_large = false

-- Every admitted request holds a lease until settled; expired ones are crashed requests.
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', ARGV[1])
if concurrency then
  if redis.call('ZCARD', KEYS[4]) >= concurrency then
    waits[1] = ARGV[12]
    refused = true
  end
end

local stored = redis.call('HMGET', KEYS[1], 'req', 'tok')
local request_tat = tonumber(stored[1]) or 0
local token_tat = tonumber(stored[2]) or 0
local new_request_tat, new_token_tat = request_tat, token_tat
local ok, wait

if rpm then
  ok, new_request_tat, wait = gcra(request_tat, now, 1, rpm)
  if not ok then
    waits[2] = fmt(wait)
    refused = true
  end
end
if tpm then
  too_large = too_large or cost > tpm
  ok, new_token_tat, wait = gcra(token_tat, now, cost, tpm)
  if not ok then
    waits[3] = fmt(wait)
    refused = true
  end
end

local day_used = tonumber(redis.call('GET', KEYS[2])) or 0
if tpd and day_used + cost > tpd then
  too_large = too_large or cost > tpd
  waits[4] = ARGV[5]
  refused = true
end
local month_used = tonumber(redis.call('GET', KEYS[3])) or 0
if tpmo and month_used + cost > tpmo then
  too_large = too_large or cost > tpmo
  waits[5] = ARGV[6]
  refused = true
end

if not refused then
  request_tat, token_tat = new_request_tat, new_token_tat
  if rpm or tpm then
    redis.call('HSET', KEYS[1], 'req', fmt(request_tat), 'tok', fmt(token_tat))
    -- Once both TATs are in the past the hash means "full bucket", exactly as if
    -- absent; the margin covers replicas whose clocks run a little behind.
    local live = math.max(request_tat, token_tat) - now + margin
    redis.call('PEXPIRE', KEYS[1], int(math.ceil(live * 1000)))
  end
  -- Usage is counted even without a quota: the admin API reports it.
  redis.call('INCRBY', KEYS[2], ARGV[2])
  redis.call('PEXPIRE', KEYS[2], int(math.ceil((tonumber(ARGV[5]) + DAY) * 1000)))
  redis.call('INCRBY', KEYS[3], ARGV[2])
  redis.call('PEXPIRE', KEYS[3], int(math.ceil((tonumber(ARGV[6]) + DAY) * 1000)))
  redis.call('ZADD', KEYS[4], fmt(now + lease_ttl), ARGV[3])
  -- The newest lease expires last: the set lives exactly as long as it.
  redis.call('PEXPIRE', KEYS[4], int(math.ceil(lease_ttl * 1000)))
end

return {
  refused and 0 or 1,
  too_large and 1 or 0,
  fmt(request_tat),
  fmt(token_tat),
  waits[1], waits[2], waits[3], waits[4], waits[5],
}
