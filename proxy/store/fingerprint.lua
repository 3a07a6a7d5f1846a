-- Prepended to admit.lua and campaign.lua when they are loaded (proxy/store/redis.py _Script):
-- one request counted behind one campaign fingerprint, exactly proxy/windows.py
-- FingerprintWindow.add. admit.lua counts a standalone server's fingerprints in the admit's own
-- call; campaign.lua counts a cluster's after it, one fingerprint a call (their own slots).
--   count_key: the fingerprint's numbers (t, requests, flavored: three doubles, struct big-endian, read
--     and written whole, as state.lua's are); set_key: its set of account ids
--   now (s), flavored ('1' or '0'), half_life (s), cap (accounts remembered), ttl_ms (a string)
-- Returns accounts, requests, flavored (numbers).

local function count_fingerprint(count_key, set_key, account, now, flavored, half_life, cap, ttl_ms)
  local stored = redis.call('GET', count_key)
  local t, requests, flavored_n = 0, 0, 0
  if stored then
    t, requests, flavored_n = struct.unpack('>ddd', stored)
  end
  if t ~= 0 and now > t then
    local factor = 2 ^ (-(now - t) / half_life)
    requests = requests * factor
    flavored_n = flavored_n * factor
  end
  t = math.max(t, now)
  requests = requests + 1.0
  if flavored == '1' then
    flavored_n = flavored_n + 1.0
  end
  redis.call('SET', count_key, struct.pack('>ddd', t, requests, flavored_n), 'PX', ttl_ms)
  -- Bounded: past the cap new accounts are not remembered (an old one re-adding is a no-op anyway).
  local accounts = redis.call('SCARD', set_key)
  if accounts < cap then
    accounts = accounts + redis.call('SADD', set_key, account)
  end
  redis.call('PEXPIRE', set_key, ttl_ms)
  return accounts, requests, flavored_n
end
