package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
local c = require("common")
local encoded = {}
-- /v3/kv/range is linearizable by default (serializable=false).
request = function()
  local k = c.key()
  local k64 = encoded[k]
  if not k64 then k64 = c.base64(k); encoded[k] = k64 end
  return wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" },
                    '{"key":"' .. k64 .. '"}')
end
done = c.done
