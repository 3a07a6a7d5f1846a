-- Admit one request against every limit of one account, in one atomic call.
-- The same arithmetic as MemoryStore.admit_now and proxy/limits.py (gcra):
-- check every limit first, and reserve on all of them only if all pass.
--
-- An admitted request that comes with an observation is also folded into the
-- account's detection state, exactly as proxy/windows.py AccountWindow.admit,
-- and, on a standalone server, into its campaign fingerprints' counts
-- (fingerprint.lua, prepended; on a cluster the fingerprints live in other
-- slots and campaign.lua, with the same prologue, runs after this, there).
--
-- KEYS (one hash tag, so one cluster slot):
--   1 gcra hash  (fields req, tok: the request and token TATs)
--   2 day counter   (tokens used on the UTC day of ARGV[1])
--   3 month counter (tokens used in the UTC month of ARGV[1])
--   4 lease zset    (lease id -> expiry)
--   5 detection state: one string of doubles (state.lua, prepended), read and written whole
--   6 ring string (the last ARGV[16] observations, oldest first): fixed-size records, RECORD below
--   then, standalone only, two keys per campaign fingerprint (KEYS 7 and 8, 9 and 10, ...):
--     its numbers (t, requests, flavored; fingerprint.lua) and its set of at most a cap of account ids.
--     These are in other slots: a cluster refuses them, so it never sends them.
-- ARGV (numbers as decimal strings; "" means unlimited):
--   1 now            2 cost               3 lease id         4 lease ttl (s)
--   5 day_left (s)   6 month_left (s)     7 requests/min     8 tokens/min
--   9 tokens/day    10 tokens/month      11 concurrency     12 concurrency retry (s)
--  13 gcra ttl margin (s)
--  detection, only with an observation (ARGV[14] "" or absent: none):
--  14 short half-life (s)  15 long half-life (s)  16 ring size  17 gap EWMA alpha
--  18 detection ttl (s)    19 the observation "query,skeleton,topic,lang,bias,seed"
--  20 the subject of a stand-alone question (0: none)
--  21 N, the number of short counters; then N short increments, then the long
--     increments (the rest). What a counter means is Python's business, but for the
--     last short counter: the revisits, counted here (detect.py revisits).
-- Time comes from the caller, never from TIME, so a virtual clock replays exactly.
--
-- On the wire the arguments are packed (RedisStore builds and Redis parses three strings,
-- where ~40 arguments cost the proxy measurable CPU per request to format and pack):
--   ARGV[1] the lease id (ARGV 3 above)
--   ARGV[2] ARGV 1, 2 and 4 to 13 above, separated by spaces, '-' for ''
--   ARGV[3] absent without an observation; else ARGV 14 on, separated by spaces
--   ARGV[4] with fingerprint keys only: "flavored(1|0) half-life(s) accounts-cap ttl(s)"
--   ARGV[5] with fingerprint keys only: the account id (what the fingerprints' sets hold)
-- wire.lua, prepended when the script is loaded, unpacks them into the layout above.
-- state.lua and fingerprint.lua follow it.
--
-- Returns {allowed 0|1, too_large 0|1, request TAT, token TAT (after the call),
--          then one wait per limit in LIMIT_ORDER: concurrency, requests/min,
--          tokens/min, tokens/day, tokens/month (false: that limit passed)},
-- and when admitted with an observation, appended, one string of doubles (struct, big-endian:
-- one bulk reply, no number formatted or parsed as text): the N short and M long
-- counters, ring, same_query, same_skeleton, recurring_templates,
-- distinct_topics, distinct_langs, biased, distinct_bias, seed_sweep,
-- gap_mean, gap_var, gaps, active_hours, risk, risk_t (the stored risk and
-- its time: Python decays it), since;
-- and with fingerprint keys, one more string of doubles: accounts, requests, flavored per
-- fingerprint, in KEYS order.
-- Fractions go back as strings: Redis would truncate a Lua number to an integer.

local CAMPAIGN, ACCOUNT_ID = WIRE[4], WIRE[5]  -- with fingerprint keys only (above)

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

local reply = {
  refused and 0 or 1,
  too_large and 1 or 0,
  fmt(request_tat),
  fmt(token_tat),
  waits[1], waits[2], waits[3], waits[4], waits[5],
}
if refused or not ARGV[14] or ARGV[14] == '' then
  return reply
end

-- ---- detection: AccountWindow.admit -------------------------------------------

local HOUR = 3600.0
local half_life = tonumber(ARGV[14])
local long_half_life = tonumber(ARGV[15])
local ring_size = tonumber(ARGV[16])
local alpha = tonumber(ARGV[17])
local det_ttl = int(math.ceil(tonumber(ARGV[18]) * 1000))
local subject = tonumber(ARGV[20])
local n_short = tonumber(ARGV[21])
local n_long = #ARGV - 21 - n_short
-- detect.py SUBJECTS, SUBJECT_RECENT, SUBJECT_HABIT
local SUBJECTS, SUBJECT_RECENT, SUBJECT_HABIT = 16, 3, 6

-- log1p without the cancellation of log(1 + x) for small x (Goldberg's trick).
local function log1p(x)
  local u = 1.0 + x
  if u == 1.0 then
    return x
  end
  return math.log(u) * x / (u - 1.0)
end

-- Python's float floor division (x // y), exact at the boundaries where
-- math.floor(x / y) would round the quotient up.
local function floordiv(x, y)
  local mod = math.fmod(x, y)
  local div = (x - mod) / y
  if mod ~= 0 and ((y < 0) ~= (mod < 0)) then
    div = div - 1.0
  end
  local floor = math.floor(div)
  if div - floor > 0.5 then
    floor = floor + 1.0
  end
  return floor
end

-- A ring entry: query, skeleton (its opening and closing halves apart), topic, lang, bias, seed, as
-- struct packs them (big-endian, no padding): numbers, not text, so the ring is read without a string
-- made per field (a list of "q,s,t,l,b,seed" entries split per request was half of this script's
-- time). Every field fits a double exactly (the seed: detect.py seed_key).
local RECORD, RECORD_SIZE = '>I4I2I2I4BI4d', 25

local st = state_read(redis.call('GET', KEYS[5]), n_short, n_long)
local t, last, gap_mean, gap_var, gaps = st.t, st.last, st.gap_mean, st.gap_var, st.gaps
local short, long, hours = st.short, st.long, st.hours
local since = st.since or now

-- Decay to now (only forward in time), then count this request.
if t ~= 0 then
  local elapsed = now - t
  if elapsed > 0 then
    local factor = 2 ^ (-elapsed / half_life)
    for i = 1, n_short do
      short[i] = short[i] * factor
    end
    factor = 2 ^ (-elapsed / long_half_life)
    for i = 1, n_long do
      long[i] = long[i] * factor
    end
  end
end
t = math.max(t, now)
for i = 1, n_short do
  short[i] = short[i] + tonumber(ARGV[21 + i])
end
for i = 1, n_long do
  long[i] = long[i] + tonumber(ARGV[21 + n_short + i])
end

-- A stand-alone question's subject: three 16-bit word hashes (a 48-bit number, exact in a Lua
-- number). It revisits when a word of it is in one of the last SUBJECT_RECENT subjects and in
-- fewer than SUBJECT_HABIT of all remembered (detect.py revisits).
if subject ~= 0 then
  local floor = math.floor
  -- A subject's three words, 0 where there is none (detect.py subject_words).
  local function words(x)
    return floor(x / 4294967296), floor(x / 65536) % 65536, x % 65536
  end
  local remembered = st.subjects
  local n = #remembered
  local in_all, in_recent = {}, {}
  -- Each distinct word of each remembered subject counted once (no table made per subject).
  local function count(word, recent)
    in_all[word] = (in_all[word] or 0) + 1
    if recent then
      in_recent[word] = true
    end
  end
  for i = 1, n do
    local a, b, c = words(remembered[i])
    local recent = i > n - SUBJECT_RECENT
    if a ~= 0 then
      count(a, recent)
    end
    if b ~= 0 and b ~= a then
      count(b, recent)
    end
    if c ~= 0 and c ~= a and c ~= b then
      count(c, recent)
    end
  end
  local function revisits(word)
    return word ~= 0 and in_recent[word] and in_all[word] < SUBJECT_HABIT
  end
  local a, b, c = words(subject)
  if revisits(a) or revisits(b) or revisits(c) then
    short[n_short] = short[n_short] + 1
  end
  local kept = {}
  for i = math.max(n + 2 - SUBJECTS, 1), n do
    kept[#kept + 1] = remembered[i]
  end
  kept[#kept + 1] = subject
  st.subjects = kept
end

-- The ring: this request's entry (its six numbers as decimal text), then the stored ones.
local query, skeleton, topic, lang, bias, seed
do
  local q, s, tp, l, b, sd = string.match(ARGV[19], '^([^,]*),([^,]*),([^,]*),([^,]*),([^,]*),([^,]*)$')
  query, skeleton, topic, lang, bias, seed = tonumber(q), tonumber(s), tonumber(tp), tonumber(l), tonumber(b),
                                             tonumber(sd)
end
local same_query, same_skeleton, biased, seed_sweep = 0, 0, 0, 0
local topics, langs, biases = {[topic] = true}, {[lang] = true}, {}
local n_topics, n_langs, n_biases = 1, 1, 0
if bias ~= 0 then
  biases[bias] = true
  n_biases = 1
end
-- A skeleton is a template's opening (high 16 bits) and closing (low 16 bits), 0 where
-- there is none: requests of one template share at least one (proxy/text.py template_stats).
local sk_open, sk_close = math.floor(skeleton / 65536), skeleton % 65536
-- Recurring templates: requests whose opening or closing another remembered request shares.
-- Counted over distinct prompts (query hashes), this one once: an exact repeat (a retry, the
-- last user turn of a tool-calling conversation) is one prompt, not a template filled twice.
local open_n, close_n = {[sk_open] = 1}, {[sk_close] = 1}
local opens, closes, n_prompts = {}, {}, 0  -- the ends of the distinct prompts remembered
-- A prompt is (query, skeleton). Nearly always one query has one skeleton, so a prompt is found by
-- its query; a query seen with another skeleton (a hash collision, or the conformance suite's
-- made-up pairs) falls back to the pair as one string.
local first_skeleton = {[query] = skeleton}
local pairs_seen = {}
local ring = redis.call('GET', KEYS[6]) or ''
local ring_n = math.floor(#ring / RECORD_SIZE)
local unpack_record = struct.unpack
local at = 1
for _ = 1, ring_n do
  local q, so, sc, tp, l, b, sd
  q, so, sc, tp, l, b, sd, at = unpack_record(RECORD, ring, at)
  local s = so * 65536 + sc
  if q == query then
    same_query = same_query + 1
    if sd ~= 0 and seed ~= 0 and sd ~= seed then
      seed_sweep = seed_sweep + 1
    end
  end
  local first = first_skeleton[q]
  local new_prompt = first == nil
  if new_prompt then
    first_skeleton[q] = s
  elseif first ~= s then
    local pair = q .. ':' .. s
    new_prompt = not pairs_seen[pair]
    pairs_seen[pair] = true
  end
  if new_prompt then
    if (sk_open ~= 0 and so == sk_open) or (sk_close ~= 0 and sc == sk_close) then
      same_skeleton = same_skeleton + 1
    end
    open_n[so] = (open_n[so] or 0) + 1
    close_n[sc] = (close_n[sc] or 0) + 1
    n_prompts = n_prompts + 1
    opens[n_prompts], closes[n_prompts] = so, sc
  end
  if not topics[tp] then
    topics[tp] = true
    n_topics = n_topics + 1
  end
  if not langs[l] then
    langs[l] = true
    n_langs = n_langs + 1
  end
  if b ~= 0 then
    biased = biased + 1
    if not biases[b] then
      biases[b] = true
      n_biases = n_biases + 1
    end
  end
end
-- A zero half is no template end (too short, or code): it never recurs.
open_n[0], close_n[0] = 0, 0
local recurring = (open_n[sk_open] > 1 or close_n[sk_close] > 1) and 1 or 0
for i = 1, n_prompts do
  if open_n[opens[i]] > 1 or close_n[closes[i]] > 1 then
    recurring = recurring + 1
  end
end
-- Pushed, and the oldest dropped past the ring's size: one write.
local drop = ring_n + 1 - ring_size
if drop > 0 then
  ring = string.sub(ring, drop * RECORD_SIZE + 1)
end
redis.call('SET', KEYS[6], ring .. struct.pack(RECORD, query, sk_open, sk_close, topic, lang, bias, seed), 'PX',
           det_ttl)

-- Pacing: an EWMA of log(1 + seconds between requests).
if last ~= 0 then
  local gap = log1p(math.max(now - last, 0.0))
  if gaps == 0 then
    gap_mean, gap_var = gap, 0.0
  else
    local delta = gap - gap_mean
    gap_mean = gap_mean + alpha * delta
    gap_var = (1.0 - alpha) * (gap_var + alpha * delta * delta)
  end
  gaps = gaps + 1
end
last = math.max(last, now)
local slot = floordiv(now, HOUR) % 24
hours[slot] = now
local active = 0
for h = 0, 23 do
  if hours[h] ~= 0 and now - hours[h] < DAY then
    active = active + 1
  end
end

st.t, st.last, st.gap_mean, st.gap_var, st.gaps, st.since = t, last, gap_mean, gap_var, gaps, since
state_write(KEYS[5], st, det_ttl)

-- The window, as doubles (see RedisStore._window): the counters, then the ring's statistics and pacing.
local window = {}
for i = 1, n_short do
  window[i] = short[i]
end
for i = 1, n_long do
  window[n_short + i] = long[i]
end
local stats = {ring_n, same_query, same_skeleton, recurring, n_topics, n_langs,
               biased + ((bias ~= 0) and 1 or 0), n_biases, seed_sweep,
               gap_mean, gap_var, gaps, active, st.risk, st.risk_t, since}
local n = n_short + n_long
for i = 1, #stats do
  window[n + i] = stats[i]
end
reply[10] = struct.pack(doubles(#window), unpack(window))
if #KEYS <= 6 then
  return reply
end

-- ---- campaign fingerprints (standalone only): fingerprint.lua's count_fingerprint, each ----

local flavored_inc, campaign_half_life, cap, campaign_ttl = string.match(CAMPAIGN, '^(%S+) (%S+) (%S+) (%S+)$')
campaign_half_life, cap = tonumber(campaign_half_life), tonumber(cap)
campaign_ttl = int(math.ceil(tonumber(campaign_ttl) * 1000))
local counts = {}
for k = 7, #KEYS - 1, 2 do
  local accounts, requests, flavored = count_fingerprint(KEYS[k], KEYS[k + 1], ACCOUNT_ID, now, flavored_inc,
                                                         campaign_half_life, cap, campaign_ttl)
  counts[#counts + 1] = accounts
  counts[#counts + 1] = requests
  counts[#counts + 1] = flavored
end
reply[11] = struct.pack(doubles(#counts), unpack(counts))
return reply
