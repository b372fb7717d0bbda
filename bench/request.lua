-- wrk script for bench/: one fixed request, configured from the environment, and a check
-- of every response (status, and optionally a substring of the body).
--
--   BENCH_METHOD         GET, POST, ...
--   BENCH_BODY           request body; "__ID__" in it becomes a per-request number
--                        (JSON-RPC ids must be unique among concurrent requests of a session)
--   BENCH_HEADERS        "Name: value" lines separated by "\n"
--   BENCH_EXPECT_STATUS  the status every response must have
--   BENCH_EXPECT_BODY    a string every response body must contain (optional)
--
-- done() prints one line "BENCH_JSON {...}" that bench/wrk.py parses.

local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", #threads + 1)
  table.insert(threads, thread)
end

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body == "" then body = nil end
wrk.body = body
for line in string.gmatch(os.getenv("BENCH_HEADERS") or "", "[^\n]+") do
  local name, value = string.match(line, "^([^:]+):%s*(.*)$")
  if name then wrk.headers[name] = value end
end
local expect_status = tonumber(os.getenv("BENCH_EXPECT_STATUS") or "200")
local expect_body = os.getenv("BENCH_EXPECT_BODY")
if expect_body == "" then expect_body = nil end

ok_count = 0
bad_status = 0
bad_body = 0
last_bad = ""

if body and string.find(body, "__ID__", 1, true) then
  local before, after = string.match(body, "^(.-)__ID__(.*)$")
  function request()
    counter = counter + 1
    local id = (thread_index or 1) * 1000000000 + counter
    return wrk.format(nil, nil, nil, before .. id .. after)
  end
end

function response(status, headers, response_body)
  if status ~= expect_status then
    bad_status = bad_status + 1
    last_bad = "HTTP " .. status .. ": " .. string.sub(response_body or "", 1, 160)
  elseif expect_body and not string.find(response_body or "", expect_body, 1, true) then
    bad_body = bad_body + 1
    last_bad = "body: " .. string.sub(response_body or "", 1, 160)
  else
    ok_count = ok_count + 1
  end
end

local function json_string(s)
  return '"' .. string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end) .. '"'
end

function done(summary, latency, requests)
  local ok, status_errors, body_errors, sample = 0, 0, 0, ""
  for _, thread in ipairs(threads) do
    ok = ok + thread:get("ok_count")
    status_errors = status_errors + thread:get("bad_status")
    body_errors = body_errors + thread:get("bad_body")
    local bad = thread:get("last_bad")
    if bad ~= "" then sample = bad end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"ok":%d,"bad_status":%d,"bad_body":%d,' ..
    '"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"max_us":%d,' ..
    '"sample":%s}\n',
    summary.requests, summary.duration, ok, status_errors, body_errors,
    e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.mean, latency.max,
    json_string(sample)))
end
