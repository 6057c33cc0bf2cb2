package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
local c = require("common")
local value64 = c.base64(c.value)
request = function()
  return wrk.format("POST", "/v3/kv/put", { ["Content-Type"] = "application/json" },
                    '{"key":"' .. c.key_base64() .. '","value":"' .. value64 .. '"}')
end
done = c.done
