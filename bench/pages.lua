-- wrk script for bench/pages.py: GETs paths picked at random from a file, as a logged-in user, and prints
-- the run's figures as one JSON line (wrk's own --latency output has no p95).
--
--   wrk -t2 -c50 -d15s -s bench/pages.lua http://127.0.0.1:PORT -- PATHS_FILE "sessionid=...; csrftoken=..."

local paths = {}
local cookie = ""

function init(args)
  local file = assert(io.open(args[1], "r"))
  for line in file:lines() do
    if line ~= "" then paths[#paths + 1] = line end
  end
  file:close()
  cookie = args[2] or ""
  -- Each thread has its own Lua state: seed each differently (the address of a new table differs).
  local address = tonumber(tostring({}):match("0x(%x+)") or "0", 16) or 0
  math.randomseed(os.time() + address % 1000003)
end

function request()
  local path = paths[math.random(#paths)]
  return wrk.format("GET", path, { Cookie = cookie, Accept = "text/html,application/json" })
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "non_2xx_3xx": %d, "socket_errors": %d, '
      .. '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d}\n',
    summary.requests, summary.duration, errors.status,
    errors.connect + errors.read + errors.write + errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max
  ))
end
