-- Prepended to admit.lua and settle.lua when they are loaded (proxy/store/redis.py _Script): an
-- account's detection state, read and written whole as one string of doubles (struct, big-endian).
-- No number is parsed from text or formatted to it: strtod and printf of 17-digit numbers were a
-- third of these scripts' time. The layout (proxy/store/redis.py _STATE_HEAD):
--   n_short, n_long, n_subjects, t, last, gap_mean, gap_var, gaps, risk, risk_t, since,
--   then the n_short short counters, the n_long long counters, the 24 hour slots (when each hour
--   of the day last saw traffic, 0-based), and the n_subjects subjects (oldest first).
-- Counts stored by another version (more or fewer counters) are honoured: a missing counter reads 0.

local STATE_HEAD = 11

local function doubles(n)
  return '>' .. string.rep('d', n)
end

-- The state in ``blob`` (false or nil: none yet), with n_short and n_long counters.
local function state_read(blob, n_short, n_long)
  local short, long, hours, subjects = {}, {}, {}, {}
  local st = {t = 0, last = 0, gap_mean = 0, gap_var = 0, gaps = 0, risk = 0, risk_t = 0, since = false,
              short = short, long = long, hours = hours, subjects = subjects}
  local v, sn, ln, subn = {}, 0, 0, 0
  if blob then
    sn, ln, subn = struct.unpack('>ddd', blob)
    v = {struct.unpack(doubles(STATE_HEAD + sn + ln + 24 + subn), blob)}
    st.t, st.last, st.gap_mean, st.gap_var, st.gaps, st.risk, st.risk_t, st.since =
      v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11]
  end
  local at = STATE_HEAD
  for i = 1, n_short do
    short[i] = (i <= sn) and v[at + i] or 0
  end
  at = at + sn
  for i = 1, n_long do
    long[i] = (i <= ln) and v[at + i] or 0
  end
  at = at + ln
  for h = 0, 23 do
    hours[h] = v[at + 1 + h] or 0
  end
  at = at + 24
  for i = 1, subn do
    subjects[i] = v[at + i]
  end
  return st
end

local function state_write(key, st, ttl_ms)
  local short, long, hours, subjects = st.short, st.long, st.hours, st.subjects
  local v = {#short, #long, #subjects, st.t, st.last, st.gap_mean, st.gap_var, st.gaps, st.risk, st.risk_t, st.since}
  local n = STATE_HEAD
  for i = 1, #short do
    v[n + i] = short[i]
  end
  n = n + #short
  for i = 1, #long do
    v[n + i] = long[i]
  end
  n = n + #long
  for h = 0, 23 do
    v[n + 1 + h] = hours[h]
  end
  n = n + 24
  for i = 1, #subjects do
    v[n + i] = subjects[i]
  end
  n = n + #subjects
  redis.call('SET', key, struct.pack(doubles(n), unpack(v, 1, n)), 'PX', ttl_ms)
end
