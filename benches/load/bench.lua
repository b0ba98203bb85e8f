-- wrk script of benches/load/run.sh: one request kind per run, picked by the first argument.
--
--   wrk -t T -c C -d S -s bench.lua URL -- MODE DATA_FILE T [DELAY_MS [PATH]]
--
-- MODE        what every request is
-- hello       GET /hello                        (the bare Axum baseline)
-- select      GET /users/<id>                   (the baseline's one primary-key SELECT; ids from DATA_FILE)
-- health      GET /health
-- profile     GET /api/v1/users/profile         (Bearer; access tokens from DATA_FILE)
-- login       POST /api/v1/auth/login           (identifier<TAB>client address from DATA_FILE)
-- refresh     POST /api/v1/auth/refresh         (refresh tokens from DATA_FILE, each used once)
-- ba_login    POST /api/auth/sign-in/email      (the better-auth peer; e-mail addresses from DATA_FILE)
-- ba_session  GET /api/auth/get-session         (the better-auth peer; Cookie header values from DATA_FILE)
-- get         GET PATH                          (Bearer; access tokens from DATA_FILE; PATH the fifth
--                                               argument, e.g. /api/v1/admin/users?q=x: benches/load/scale.sh)
--
-- Each thread takes every T-th line of DATA_FILE (T = the thread count, passed again because
-- the script cannot read wrk's -t) and cycles over its share.
--
-- login: every pair is its own client through X-Forwarded-For (the server trusts 127.0.0.1 as
-- a proxy), so the server's fixed login limit per client (10 a minute) is not what is measured.
--
-- ba_login carries no X-Forwarded-For: the peer runs with its rate limiter off (its per-address
-- sign-in rule would otherwise answer 429), so one address is not what is measured there either.
-- ba_session: better-auth answers 200 `null` to a cookie it does not know, so each answer is
-- read, and one without a session counts as non-2xx (counted per thread, summed in done()).
--
-- refresh: a refresh rotates the token and presenting a rotated one revokes the session, so a
-- token is never sent twice: each thread keeps a queue of unused tokens; a request takes one,
-- its answer puts the new one back (wrk calls response() before the connection's next
-- request()). A failed refresh loses its chain; an empty queue sends "spent" and counts as a
-- non-2xx answer. wrk calls request() once before the run to check it: that token is dropped,
-- never sent, so each thread needs more tokens than connections.
--
-- DELAY_MS > 0 waits that long before each request of a connection (the probes of the flood).
--
-- done() prints `key value` lines for the results file: requests, ok_rps (2xx and 3xx answers
-- a second, less the failed ones of ba_session), p50/p90/p99/max in ms, non2xx (with those),
-- socket errors.

local USER_AGENT = "usermgmt-wrk/1"
local PASSWORD = "Bench-Load-Passw0rd!" -- usermgmt-loadkit prep registers users with it

local mode, items, next_item, queue, delay_ms, get_path

local function read_share(path, share, count)
  local lines, n = {}, 0
  local file = assert(io.open(path, "r"), "cannot open " .. tostring(path))
  for line in file:lines() do
    if line ~= "" then
      if n % count == share then
        lines[#lines + 1] = line
      end
      n = n + 1
    end
  end
  file:close()
  return lines
end

local function take()
  local item = items[next_item]
  next_item = next_item % #items + 1
  return item
end

function init(args)
  mode = args[1]
  local data, count = args[2], tonumber(args[3] or "1")
  delay_ms = tonumber(args[4] or "0")
  get_path = args[5]
  assert(mode ~= "get" or get_path, "mode get needs a PATH")
  local share = tonumber(id or 0) -- set by setup() below, in this thread's state
  items, next_item, queue = {}, 1, {}
  if data and data ~= "-" then
    items = read_share(data, share, count)
    assert(#items > 0, "thread " .. share .. " got no line of " .. data)
  end
  if mode == "refresh" then
    for i, token in ipairs(items) do
      queue[i] = token
    end
  elseif mode == "ba_session" then
    response = function(status, headers, body)
      if status == 200 and not body:find('"session"', 1, true) then
        bad = bad + 1
      end
    end
  else
    response = nil -- wrk parses answers only when response() exists
  end
  if delay_ms <= 0 then
    delay = nil
  end
  local static = { hello = "/hello", health = "/health" }
  if static[mode] then
    wrk.method, wrk.path = "GET", static[mode]
    wrk.headers["User-Agent"] = USER_AGENT
    request = nil -- static: wrk formats the request once
  end
end

-- Answers with a 2xx status that still failed (ba_session), per thread.
bad = 0

local thread_count, threads = 0, {}

function setup(thread)
  thread:set("id", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

function request()
  if mode == "select" then
    return wrk.format("GET", "/users/" .. take(), { ["User-Agent"] = USER_AGENT })
  elseif mode == "profile" then
    return wrk.format("GET", "/api/v1/users/profile", {
      ["User-Agent"] = USER_AGENT,
      ["Authorization"] = "Bearer " .. take(),
    })
  elseif mode == "get" then
    return wrk.format("GET", get_path, {
      ["User-Agent"] = USER_AGENT,
      ["Authorization"] = "Bearer " .. take(),
    })
  elseif mode == "login" then
    local identifier, ip = take():match("^([^\t]+)\t(.+)$")
    return wrk.format("POST", "/api/v1/auth/login", {
      ["User-Agent"] = USER_AGENT,
      ["Content-Type"] = "application/json",
      ["X-Forwarded-For"] = ip,
    }, '{"identifier":"' .. identifier .. '","password":"' .. PASSWORD .. '"}')
  elseif mode == "ba_login" then
    return wrk.format("POST", "/api/auth/sign-in/email", {
      ["User-Agent"] = USER_AGENT,
      ["Content-Type"] = "application/json",
    }, '{"email":"' .. take() .. '","password":"' .. PASSWORD .. '"}')
  elseif mode == "ba_session" then
    return wrk.format("GET", "/api/auth/get-session", {
      ["User-Agent"] = USER_AGENT,
      ["Cookie"] = take(),
    })
  elseif mode == "refresh" then
    local token = table.remove(queue, 1) or "spent"
    return wrk.format("POST", "/api/v1/auth/refresh", {
      ["User-Agent"] = USER_AGENT,
      ["Content-Type"] = "application/json",
    }, '{"refreshToken":"' .. token .. '"}')
  end
  return wrk.format()
end

function response(status, headers, body)
  if status == 200 then
    local token = body:match('"refreshToken"%s*:%s*"([^"]+)"')
    if token then
      queue[#queue + 1] = token
    end
  end
end

function delay()
  return delay_ms
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local failed = e.status
  for _, thread in ipairs(threads) do
    failed = failed + (tonumber(thread:get("bad")) or 0)
  end
  local ok = summary.requests - failed
  local out = {
    "requests " .. summary.requests,
    string.format("duration_s %.3f", secs),
    string.format("ok_rps %.1f", ok / secs),
    string.format("p50_ms %.3f", latency:percentile(50) / 1000),
    string.format("p90_ms %.3f", latency:percentile(90) / 1000),
    string.format("p99_ms %.3f", latency:percentile(99) / 1000),
    string.format("max_ms %.3f", latency.max / 1000),
    "non2xx " .. failed,
    "socket_errors " .. (e.connect + e.read + e.write + e.timeout),
  }
  io.write(table.concat(out, "\n") .. "\n")
end
