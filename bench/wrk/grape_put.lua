package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
local c = require("common")
request = function()
  return wrk.format("PUT", "/v1/kv/" .. c.key(), nil, c.value)
end
done = c.done
