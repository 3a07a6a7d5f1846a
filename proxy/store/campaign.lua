-- Count one admitted request behind one campaign fingerprint, across accounts:
-- exactly proxy/windows.py FingerprintWindow.add. A fingerprint has its own hash
-- tag (so its own cluster slot), which is why, on a cluster, this is a script of
-- its own, run after admit.lua admitted the request. (On a standalone server
-- admit.lua does the same arithmetic itself, in the admit's own call.)
--
-- KEYS: 1 fingerprint hash (t, requests, flavored)
--       2 set of account ids (at most ARGV[5] of them)
-- ARGV: 1 now  2 account  3 flavored 1|0  4 half-life (s)  5 accounts cap  6 ttl (s)
-- Returns {accounts, requests, flavored}.

local function fmt(x)
  return string.format('%.17g', x)
end

local now = tonumber(ARGV[1])
local ttl = string.format('%d', math.ceil(tonumber(ARGV[6]) * 1000))
local stored = redis.call('HMGET', KEYS[1], 't', 'requests', 'flavored')
local t = tonumber(stored[1]) or 0
local requests = tonumber(stored[2]) or 0
local flavored = tonumber(stored[3]) or 0
if t ~= 0 and now > t then
  local factor = 2 ^ (-(now - t) / tonumber(ARGV[4]))
  requests = requests * factor
  flavored = flavored * factor
end
t = math.max(t, now)
requests = requests + 1.0
if ARGV[3] == '1' then
  flavored = flavored + 1.0
end
redis.call('HSET', KEYS[1], 't', fmt(t), 'requests', fmt(requests), 'flavored', fmt(flavored))
redis.call('PEXPIRE', KEYS[1], ttl)

-- Bounded: past the cap new accounts are not remembered (an old one re-adding is a no-op anyway).
local accounts = redis.call('SCARD', KEYS[2])
if accounts < tonumber(ARGV[5]) then
  accounts = accounts + redis.call('SADD', KEYS[2], ARGV[2])
end
redis.call('PEXPIRE', KEYS[2], ttl)
return {accounts, fmt(requests), fmt(flavored)}
