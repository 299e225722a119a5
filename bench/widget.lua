-- wrk script for bench/widget.py: closed-loop load where every request is a different user.
--
--   wrk -t T -c C -d D -s bench/widget.lua http://127.0.0.1:PORT -- PATH TOKENS FIRST COUNT T OFFSET
--
-- PATH is the URL path to request, TOKENS a file of API tokens (one a line, in user order),
-- FIRST and COUNT the slice of that file to walk (0-based), T wrk's thread count again (a
-- thread cannot see it: each starts before the next is set up), OFFSET where in the slice to
-- start. Thread i sends tokens OFFSET+i, OFFSET+i+T, ... of the slice (wrapping round), so no
-- two requests of a run share a user until all COUNT users have been read once
-- (bench/widget.py compares the request count with COUNT to say whether a cold pass stayed
-- cold). done() prints one JSON line, prefixed WRKJSON, for the script.

local next_index = 0

function setup(thread)
  thread:set("thread_index", next_index)
  next_index = next_index + 1
end

function init(args)
  path = args[1]
  local first = tonumber(args[3])
  local count = tonumber(args[4])
  tokens = {}
  local line_number = 0
  for line in io.lines(args[2]) do
    if line_number >= first + count then
      break
    end
    if line_number >= first and line ~= "" then
      tokens[#tokens + 1] = line
    end
    line_number = line_number + 1
  end
  if #tokens == 0 then
    error("no tokens in slice " .. first .. "+" .. count .. " of " .. args[2])
  end
  step = tonumber(args[5])
  position = tonumber(args[6]) + thread_index
end

function request()
  local token = tokens[(position % #tokens) + 1]
  position = position + step
  -- A line "Name: value" (bench/pages.py: a session cookie) is sent as that header instead.
  local name, value = string.match(token, "^([%w-]+): (.*)$")
  if name then
    return wrk.format("GET", path, { [name] = value })
  end
  return wrk.format("GET", path, { ["Authorization"] = "Token " .. token })
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, ' ..
      '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}, ' ..
      '"latency_us": {"p50": %d, "p90": %d, "p95": %d, "p99": %d, "mean": %.1f, "max": %d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max
  ))
end
