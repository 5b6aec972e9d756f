-- wrk script for `make bench`.
-- Arguments (after `--`): mode, file, expect, threads
--   mode "plain":   GET wrk.path with no cookie (a new visitor every time)
--   mode "cookies": GET wrk.path; each request takes the next line of `file` as its Cookie header
--   mode "post":    POST wrk.path; each line of `file` is "cookie<TAB>body", used once
-- expect: text the body must contain, or "loc:text" for the Location header; answers without it
-- are counted as bad and reported by done().
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  mode, file, expect = args[1], args[2], args[3] or ""
  local nthreads = tonumber(args[4]) or 1
  lines, index, bad, exhausted = {}, 0, 0, 0
  if file and file ~= "-" then
    local n = 0
    for line in io.lines(file) do
      if n % nthreads == id then table.insert(lines, line) end
      n = n + 1
    end
  end
end

local function headers(cookie)
  local h = { ["X-Forwarded-Proto"] = "https" }
  if cookie then h["Cookie"] = cookie end
  return h
end

function request()
  if mode == "plain" or #lines == 0 then
    return wrk.format("GET", wrk.path, headers(nil))
  end
  index = index + 1
  if index > #lines then
    index = 1
    if mode == "post" then exhausted = exhausted + 1 end
  end
  local line = lines[index]
  if mode == "cookies" then
    return wrk.format("GET", wrk.path, headers(line))
  end
  local tab = line:find("\t", 1, true)
  local h = headers(line:sub(1, tab - 1))
  h["Content-Type"] = "application/x-www-form-urlencoded"
  h["Origin"] = "https://" .. wrk.host .. ":" .. wrk.port
  return wrk.format("POST", wrk.path, h, line:sub(tab + 1))
end

function response(status, hdrs, body)
  if expect == "" then return end
  if expect:sub(1, 4) == "loc:" then
    local location = hdrs["Location"] or ""
    if not location:find(expect:sub(5), 1, true) then bad = bad + 1 end
  elseif not (body and body:find(expect, 1, true)) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_bad, total_exhausted = 0, 0
  for _, thread in ipairs(threads) do
    total_bad = total_bad + (thread:get("bad") or 0)
    total_exhausted = total_exhausted + (thread:get("exhausted") or 0)
  end
  io.write(string.format("BENCH bad=%d exhausted=%d\n", total_bad, total_exhausted))
end
