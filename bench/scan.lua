-- wrk script for bench/scan_loop.py: every wrk thread is one logged-in dispatcher on one keep-alive
-- connection, scanning as a dispatcher does: open a new parent (POST /api/scan/parent), scan new children
-- into it (POST /api/scan/child) until the answer says it is full, then the next parent.
--
--   BENCH_DISPATCHERS_FILE=... BENCH_WINDOW_START_MS=... BENCH_WINDOW_END_MS=... BENCH_INTERVAL_MS=0 \
--     wrk -tN -cN -dSECONDS -s bench/scan.lua http://127.0.0.1:PORT
--
-- The dispatchers file has a line per dispatcher: "SESSIONID CSRFTOKEN NUMBER PARENT,PARENT,...", where
-- NUMBER (3 digits) makes its child codes and client scan ids its own. BENCH_RUN_ID (7 characters) makes
-- this run's codes new: a child is BN + run + number + an 8-digit counter (20 characters, never a parent).
-- BENCH_INTERVAL_MS > 0 paces each dispatcher to one scan per interval (a scanner in a person's hand);
-- 0 scans as fast as the answers come.
--
-- The figures are the scans sent inside the window [BENCH_WINDOW_START_MS, BENCH_WINDOW_END_MS) of the
-- wall clock (the time before it is the warm-up): each latency is from the moment the request is handed
-- to the socket to the moment its answer is read, as the dispatcher waits for it. done() prints one JSON
-- line: the count of answers by kind and code, and every latency in microseconds.

local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
  int clock_gettime(int clock_id, bench_timespec *tp);
]]
local CLOCK_REALTIME = 0
local clock = ffi.new("bench_timespec[1]")

local function now_ms()
  ffi.C.clock_gettime(CLOCK_REALTIME, clock)
  return tonumber(clock[0].tv_sec) * 1000 + tonumber(clock[0].tv_nsec) / 1e6
end

-- The main thread: hands each wrk thread its dispatcher, and collects their figures at the end.
local lines, threads = {}, {}

function setup(thread)
  if #lines == 0 then
    for line in io.lines(os.getenv("BENCH_DISPATCHERS_FILE")) do
      lines[#lines + 1] = line
    end
  end
  threads[#threads + 1] = thread
  thread:set("dispatcher_line", lines[#threads])
end

-- A refusal about the parent itself: more children into it cannot succeed, take the next one.
local NEXT_PARENT = { parent_full = true, parent_complete = true, unknown_parent = true, not_your_area = true }

local headers, parents = {}, {}
local number, run_id, next_parent, serial, child_serial = "", "", 1, 0, 0
local parent, pending_parent, kind, sent_at = nil, nil, nil, 0
local window_start, window_end, interval, due = 0, 0, 0, 0
-- Figures of this thread, as strings (wrk copies strings, not tables, between threads' states).
latencies, answers = "", ""
local counts = {}

function init(args)
  local session, csrf, own_number, codes = dispatcher_line:match("^(%S+) (%S+) (%S+) (%S+)$")
  number, run_id = own_number, os.getenv("BENCH_RUN_ID")
  for code in codes:gmatch("[^,]+") do
    parents[#parents + 1] = code
  end
  headers = {
    ["Cookie"] = "sessionid=" .. session .. "; csrftoken=" .. csrf,
    ["X-CSRFToken"] = csrf,
    ["Content-Type"] = "application/json",
    ["Referer"] = "http://" .. wrk.host .. ":" .. wrk.port .. "/scan/",
  }
  window_start = tonumber(os.getenv("BENCH_WINDOW_START_MS"))
  window_end = tonumber(os.getenv("BENCH_WINDOW_END_MS"))
  interval = tonumber(os.getenv("BENCH_INTERVAL_MS") or "0")
  -- Paced dispatchers do not scan in step: each starts at its own moment of the first interval (every
  -- thread's Lua state starts from the same random seed, so the seed is the dispatcher's number).
  math.randomseed(tonumber(number) * 7919 + os.time())
  due = now_ms() + math.random() * interval
end

local function scan_id()
  serial = serial + 1
  return string.format("wrk%s%s%09d", run_id, number, serial)
end

function request()
  local body, path
  if parent == nil then
    pending_parent = parents[next_parent]
    next_parent = next_parent + 1
    assert(pending_parent, "dispatcher " .. number .. " ran out of free parent codes")
    kind = "parent"
    body = string.format('{"client_scan_id": "%s", "code": "%s"}', scan_id(), pending_parent)
    path = "/api/scan/parent"
  else
    child_serial = child_serial + 1
    kind = "child"
    body = string.format(
      '{"client_scan_id": "%s", "parent": "%s", "code": "BN%s%s%08d"}', scan_id(), parent, run_id, number, child_serial
    )
    path = "/api/scan/child"
  end
  sent_at = now_ms()
  return wrk.format("POST", path, headers, body)
end

function response(status, response_headers, response_body)
  local code = response_body:match('"code": "([%w_]+)"') or ("HTTP " .. status)
  if status == 200 then
    if kind == "parent" then
      parent = pending_parent
    elseif response_body:find('"full": true', 1, true) then
      parent = nil
    end
  elseif NEXT_PARENT[code] then
    parent = nil
  end
  if sent_at >= window_start and sent_at < window_end then
    latencies = latencies .. string.format("%d,", math.floor((now_ms() - sent_at) * 1000))
    local key = kind .. " " .. status .. " " .. code
    counts[key] = (counts[key] or 0) + 1
    answers = ""
    for name, n in pairs(counts) do
      answers = answers .. name .. "=" .. n .. ";"
    end
  end
end

function delay()
  if interval <= 0 then
    return 0
  end
  due = due + interval
  local wait = due - now_ms()
  return wait > 0 and wait or 0
end

function done(summary, latency, requests)
  local all_latencies, all_answers = {}, {}
  for _, thread in ipairs(threads) do
    all_latencies[#all_latencies + 1] = thread:get("latencies")
    all_answers[#all_answers + 1] = thread:get("answers")
  end
  local errors = summary.errors
  io.write(string.format(
    '{"latencies_us": "%s", "answers": "%s", "socket_errors": %d}\n',
    table.concat(all_latencies), table.concat(all_answers),
    errors.connect + errors.read + errors.write + errors.timeout
  ))
end
