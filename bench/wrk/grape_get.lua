package.path = package.path .. ";" .. (os.getenv("BENCH_LUA_DIR") or ".") .. "/?.lua"
local c = require("common")
-- Linearizable (ReadIndex) by default. A key never written answers 404, which wrk counts as an
-- error: the script writes the key space first.
request = function()
  return wrk.format("GET", "/v1/kv/" .. c.key())
end
done = c.done
