package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
local c = require("common")
-- /v3/kv/range is linearizable by default (serializable=false).
request = function()
  return wrk.format("POST", "/v3/kv/range", { ["Content-Type"] = "application/json" },
                    '{"key":"' .. c.key_base64() .. '"}')
end
done = c.done
