-- Request generator for bench/run.py.
--
-- Arguments after `--`: SPEC_FILE TOKEN IDS MAX_PER_THREAD
--   SPEC_FILE       one request per line, tab-separated: METHOD, PATH, CONTENT-TYPE, BODY
--                   ("-" for no content type / no body), then optionally EXPECT (the one
--                   status that counts as a success, "-" for any 2xx) and extra headers, one
--                   field each ("Name: value"). Several lines are sent in turn (a mix); they
--                   must agree on EXPECT, as wrk does not tell which request a response answers.
--   TOKEN           bearer token for the Authorization header, "-" for none
--   IDS             comma-separated ids that `{id}` in PATH or BODY cycles through, "-" for none
--   MAX_PER_THREAD  stop a thread after this many responses, 0 for no limit (-d decides)
-- `{n}` in PATH or BODY is a per-thread request counter.
--
-- Prints one line at the end: `BENCH_RESULT {json}` with requests, latency percentiles, the
-- count of failed responses ("non2xx": not 2xx, or not EXPECT when given; and the first one's
-- status and body, to diagnose it) and how many of them were 503 (load shed).

local threads = {}

function setup(thread)
  thread:set("thread_number", #threads)
  table.insert(threads, thread)
end

local function split(text, separator)
  local parts = {}
  for part in (text .. separator):gmatch("(.-)" .. separator) do
    table.insert(parts, part)
  end
  return parts
end

local specs = {}
local ids = {}
local headers = {}
local counter = 0
local max_responses = 0
local expect = nil -- nil: any 2xx
local content_type_header = "Content-Type"

-- Globals: done() reads them from each thread with thread:get().
responses = 0
non2xx = 0
shed = 0
first_bad = ""

local function read_specs(path)
  for line in io.lines(path) do
    if line ~= "" then
      local fields = split(line, "\t")
      local extra = {}
      for index = 6, #fields do
        local name, value = fields[index]:match("^([^:]+): (.*)$")
        assert(name, "not a header field: " .. fields[index])
        extra[name] = value
      end
      local status = fields[5] and fields[5] ~= "-" and tonumber(fields[5]) or nil
      assert(#specs == 0 or status == expect, "the requests of one run expect different statuses")
      expect = status
      table.insert(specs, {
        method = fields[1],
        path = fields[2],
        content_type = fields[3] ~= "-" and fields[3] or nil,
        body = fields[4] ~= "-" and fields[4] or nil,
        extra = extra,
      })
    end
  end
  assert(#specs > 0, "no request in " .. path)
end

-- Each spec's headers, built once: the shared ones, its content type, its own.
local function build_headers()
  for _, spec in ipairs(specs) do
    local merged = {}
    for key, value in pairs(headers) do
      merged[key] = value
    end
    if spec.content_type then
      merged[content_type_header] = spec.content_type
    end
    for key, value in pairs(spec.extra) do
      merged[key] = value
    end
    spec.headers = merged
  end
end

function init(args)
  read_specs(args[1])
  if args[2] ~= "-" then
    headers["Authorization"] = "Bearer " .. args[2]
  end
  if args[3] ~= "-" then
    ids = split(args[3], ",")
  else
    ids = { "0" }
  end
  max_responses = tonumber(args[4]) or 0
  build_headers()
  -- Threads start at different ids so they do not all touch the same row at once.
  counter = (thread_number or 0) * 7919
end

local function fill(template, id)
  if template == nil then
    return nil
  end
  local text = template:gsub("{id}", id)
  text = text:gsub("{n}", tostring(counter))
  return text
end

function request()
  counter = counter + 1
  local spec = specs[(counter - 1) % #specs + 1]
  local id = ids[(counter - 1) % #ids + 1]
  return wrk.format(spec.method, fill(spec.path, id), spec.headers, fill(spec.body, id))
end

function response(status, _, body)
  responses = responses + 1
  if status == 503 then
    shed = shed + 1
  end
  local failed
  if expect then
    failed = status ~= expect
  else
    failed = status < 200 or status > 299
  end
  if failed then
    non2xx = non2xx + 1
    if first_bad == "" then
      first_bad = tostring(status) .. " " .. (body or ""):sub(1, 300)
    end
  end
  if max_responses > 0 and responses >= max_responses then
    wrk.thread:stop()
  end
end

local function json_string(text)
  local escaped = text:gsub('[%c"\\]', function(char)
    return string.format("\\u%04x", char:byte())
  end)
  return '"' .. escaped .. '"'
end

function done(summary, latency, _)
  local bad, busy, sample = 0, 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    busy = busy + (thread:get("shed") or 0)
    local first = thread:get("first_bad") or ""
    if sample == "" then
      sample = first
    end
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"non2xx": %d, "shed": %d, "socket_errors": %d, "timeouts": %d, "sample": %s}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad, busy, errors.connect + errors.read + errors.write + errors.timeout, errors.timeout,
    json_string(sample)
  ))
end
