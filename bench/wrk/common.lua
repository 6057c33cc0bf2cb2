-- Shared by the wrk scripts of bench/compare-etcd.sh: 16-byte keys drawn from a key space, a
-- 256-byte value, base64 for etcd's JSON gateway, and one JSON line of results at the end.
local M = {}

M.keys = tonumber(os.getenv("BENCH_KEYS") or "100000")
M.value = string.rep("v", 256)

function M.key()
  return string.format("k%015d", math.random(0, M.keys - 1))
end

local alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
function M.base64(data)
  return ((data:gsub(".", function(x)
    local r, b = "", x:byte()
    for i = 8, 1, -1 do r = r .. (b % 2 ^ i - b % 2 ^ (i - 1) > 0 and "1" or "0") end
    return r
  end) .. "0000"):gsub("%d%d%d?%d?%d?%d?", function(x)
    if #x < 6 then return "" end
    local c = 0
    for i = 1, 6 do c = c + (x:sub(i, i) == "1" and 2 ^ (6 - i) or 0) end
    return alphabet:sub(c + 1, c + 1)
  end) .. ({ "", "==", "=" })[#data % 3 + 1])
end

-- A random key, base64-encoded for etcd: the key space is small enough to encode each once
-- (base64 in Lua on every request would tax the client).
local encoded = {}
function M.key_base64()
  local k = M.key()
  local k64 = encoded[k]
  if not k64 then k64 = M.base64(k); encoded[k] = k64 end
  return k64
end

-- Non-2xx answers count as errors; latency in microseconds.
function M.done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p99_us":%d,"p999_us":%d}\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
end

return M
