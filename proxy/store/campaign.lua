-- Count one admitted request behind one campaign fingerprint, across accounts:
-- fingerprint.lua's count_fingerprint, prepended when this is loaded. A fingerprint has its own
-- hash tag (so its own cluster slot), which is why, on a cluster, this is a script of its own,
-- run after admit.lua admitted the request. (On a standalone server admit.lua counts them
-- itself, in the admit's own call.)
--
-- KEYS: 1 fingerprint's numbers (t, requests, flavored; see fingerprint.lua)
--       2 set of account ids (at most ARGV[5] of them)
-- ARGV: 1 now  2 account  3 flavored 1|0  4 half-life (s)  5 accounts cap  6 ttl (s)
-- Returns {accounts, requests, flavored}.

local ttl = string.format('%d', math.ceil(tonumber(ARGV[6]) * 1000))
local accounts, requests, flavored = count_fingerprint(KEYS[1], KEYS[2], ARGV[2], tonumber(ARGV[1]), ARGV[3],
                                                       tonumber(ARGV[4]), tonumber(ARGV[5]), ttl)
return {accounts, string.format('%.17g', requests), string.format('%.17g', flavored)}
