-- wrk script: POST a ~1 KB chat body (a new one each time); rotate among the keys in SLUICE_BENCH_KEYS (comma-separated).
local body_text = string.rep("Summarise the following passage about river deltas and sediment. ", 14)
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local stream = os.getenv("SLUICE_BENCH_STREAM") == "1"
local head = '{"model":"stub-model","max_tokens":200,"stream":' .. (stream and "true" or "false") ..
  ',"messages":[{"role":"user","content":"' .. body_text .. ' (request '
local keys = {}
for k in string.gmatch(os.getenv("SLUICE_BENCH_KEYS") or "sk-bench-0", "([^,]+)") do keys[#keys + 1] = k end
local i = 0
-- Every body differs (a number at the end of the message): no cache in the proxy sees a text twice.
request = function()
  i = i + 1
  wrk.headers["Authorization"] = "Bearer " .. keys[(i % #keys) + 1]
  return wrk.format(nil, nil, nil, head .. i .. ')"}]}')
end
-- The nginx stub (bench/compare.py) cannot read the body: tell it by header which answer to send.
if stream then wrk.headers["X-Bench-Stream"] = "1" end
-- Open-loop-ish pacing (bench/compare.py's half-load cells): each connection waits this long between requests.
local pace = tonumber(os.getenv("SLUICE_BENCH_DELAY_MS") or "0")
if pace > 0 then delay = function() return pace end end
