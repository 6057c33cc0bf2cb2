package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
local c = require("common")
local value64 = c.base64(c.value)
-- Keys are few enough to encode once: per-request base64 in Lua would tax the client.
local encoded = {}
request = function()
  local k = c.key()
  local k64 = encoded[k]
  if not k64 then k64 = c.base64(k); encoded[k] = k64 end
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" },
                    '{"key":"' .. k64 .. '","value":"' .. value64 .. '"}')
end
done = c.done
