-- Settle one admitted request: release its lease and replace the reserved
-- tokens by the real cost, in one atomic call. The same arithmetic as
-- MemoryStore.settle_now and proxy/limits.py (settled_tat).
--
-- KEYS (one hash tag, so one cluster slot):
--   1 gcra hash  2 day counter of the admission's day
--   3 month counter of the admission's month  4 lease zset
-- ARGV: 1 now  2 delta (actual - reserved, an integer)  3 lease id ("" if none)
--       4 tokens/min ("" if unlimited)  5 gcra ttl margin (s)
-- Returns 1 if budgets moved, 0 if not (no lease held, or delta 0).

local WINDOW = 60.0

local function fmt(x)
  return string.format('%.17g', x)
end

local function int(x)
  return string.format('%d', x)
end

-- A refund never banks credit past a full bucket (max with now).
local function settled_tat(tat, now, delta, per_minute)
  local shift = delta * WINDOW / per_minute
  if delta < 0 then
    return math.max(tat + shift, now)
  end
  return math.max(tat, now) + shift
end

local now = tonumber(ARGV[1])
local delta = tonumber(ARGV[2])
local tpm = tonumber(ARGV[4])
local margin = tonumber(ARGV[5])

-- Only the settlement that removes the lease counts: a replay (after a reply
-- that timed out) or a settlement after the lease expired changes nothing.
if ARGV[3] == '' then
  return 0
end
local expiry = tonumber(redis.call('ZSCORE', KEYS[4], ARGV[3]))
redis.call('ZREM', KEYS[4], ARGV[3])
if not expiry or expiry <= now then
  return 0
end
if delta == 0 then
  return 0
end

if tpm then
  local stored = redis.call('HMGET', KEYS[1], 'req', 'tok')
  local request_tat = tonumber(stored[1]) or 0
  local token_tat = settled_tat(tonumber(stored[2]) or 0, now, delta, tpm)
  redis.call('HSET', KEYS[1], 'tok', fmt(token_tat))
  local live = math.max(request_tat, token_tat) - now + margin
  redis.call('PEXPIRE', KEYS[1], int(math.ceil(live * 1000)))
end

-- A missing counter is a day or month already over (expired): nothing to
-- correct, and recreating it would leave a key without a TTL.
for _, key in ipairs({KEYS[2], KEYS[3]}) do
  if redis.call('EXISTS', key) == 1 then
    if redis.call('INCRBY', key, ARGV[2]) < 0 then
      redis.call('SET', key, '0', 'KEEPTTL')
    end
  end
end
return 1
