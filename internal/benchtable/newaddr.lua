-- wrk script: every request comes from a new client address, sent as
-- X-Forwarded-For, distinct across wrk's threads and across runs.
-- Run as: wrk -tTHREADS ... -s newaddr.lua URL -- RUN THREADS
-- where RUN (0, 1, 2...) numbers the runs against one server: run r's
-- addresses start at 1.0.0.0 + r * 2^24, thread t sends the addresses
-- n * threads + t after that (n = 0, 1, 2...), and a run stops with an
-- error before it would reach the next run's (2^24 requests).
-- Addresses are only header text: every request goes to the URL's server.

local created = 0 -- threads set up so far (in wrk's main Lua state)

function setup(thread)
  thread:set("id", created)
  created = created + 1
end

local run, threads, n = 0, 1, 0

function init(args)
  run = tonumber(args[1])
  threads = tonumber(args[2])
  if run == nil or threads == nil then
    error("newaddr.lua: want the arguments RUN THREADS")
  end
end

function request()
  local i = n * threads + id
  if i >= 16777216 then
    error("newaddr.lua: more than 2^24 requests in one run")
  end
  n = n + 1
  local a = 16777216 + run * 16777216 + i
  wrk.headers["X-Forwarded-For"] = string.format("%d.%d.%d.%d",
    math.floor(a / 16777216) % 256, math.floor(a / 65536) % 256,
    math.floor(a / 256) % 256, a % 256)
  return wrk.format()
end
