-- Settle one admitted request: release its lease and replace the reserved
-- tokens by the real cost, in one atomic call. The same arithmetic as
-- MemoryStore.settle_now and proxy/limits.py (settled_tat).
--
-- With an outcome, the account's detection state takes it in too, exactly as
-- proxy/windows.py AccountWindow.settle (only by the settlement that holds the lease).
--
-- KEYS (one hash tag, so one cluster slot):
--   1 gcra hash  2 day counter of the admission's day
--   3 month counter of the admission's month  4 lease zset
--   5 detection state (state.lua, prepended after wire.lua)
-- ARGV: 1 now  2 delta (actual - reserved, an integer)  3 lease id ("" if none)
--       4 tokens/min ("" if unlimited)  5 gcra ttl margin (s)
--   outcome, optional (ARGV[6] "" or absent: none):
--       6 short half-life (s)  7 long half-life (s)  8 detection ttl (s)
--       9 the risk to store   10 served 1|0   11 N, the number of short counters;
--       then N short increments, then the long increments (the rest)
-- Returns 1 if budgets moved, 0 if not (no lease held, or delta 0).
--
-- On the wire the arguments are packed, as admit.lua's are (a settlement's ~30 arguments cost
-- the proxy more to pack than these few strings):
--   ARGV[1] the lease id (ARGV 3 above)
--   ARGV[2] ARGV 1, 2, 4 and 5 above, separated by spaces, '-' for ''
--   ARGV[3] absent without an outcome; else ARGV 6 on, separated by spaces
-- wire.lua, prepended when the script is loaded, unpacks them into the layout above.

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

-- AccountWindow.settle: decay to now, add what was served, store the risk.
-- Only an account already observed has a window (admit.lua writes t always).
if ARGV[6] and ARGV[6] ~= '' then
  local blob = redis.call('GET', KEYS[5])
  if blob then
    local n_short = tonumber(ARGV[11])
    local n_long = #ARGV - 11 - n_short
    local st = state_read(blob, n_short, n_long)
    local t = st.t
    local elapsed = now - t
    local served = ARGV[10] == '1'

    -- A vector decayed to now, plus its increments if served.
    local function settle_vector(v, n, half_life, first_increment)
      local factor = (t ~= 0 and elapsed > 0) and 2 ^ (-elapsed / half_life) or nil
      for i = 1, n do
        local x = v[i]
        if factor then
          x = x * factor
        end
        if served then
          x = x + tonumber(ARGV[first_increment + i - 1])
        end
        v[i] = x
      end
    end

    settle_vector(st.short, n_short, tonumber(ARGV[6]), 12)
    settle_vector(st.long, n_long, tonumber(ARGV[7]), 12 + n_short)
    st.t = math.max(t, now)
    st.risk, st.risk_t = tonumber(ARGV[9]), now
    state_write(KEYS[5], st, int(math.ceil(tonumber(ARGV[8]) * 1000)))
  end
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
