-- wrk script for TestLoad (load_test.go): wrk -s load.lua URL -- KEY SECONDS
--
-- Each connection counts visits of KEY, alternating /api/KEY and
-- /badge/KEY, for the first SECONDS (to the second), then only reads
-- (/api/KEY?hit=false): the requests wrk abandons when its duration ends are
-- then reads, which count nothing, so the final count must equal the counted
-- answers. Counted answers are told from reads by Cache-Control (no-store
-- only on counted ones). done() prints one "name value" pair a line.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  -- A browser's User-Agent: the server leaves bots (and requests without
  -- one) uncounted.
  wrk.headers["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
  key = args[1]
  stop_counting = os.time() + tonumber(args[2])
  sent = 0
  counted = 0
  reads = 0
  statuses = {}
end

function request()
  sent = sent + 1
  if os.time() >= stop_counting then
    return wrk.format("GET", "/api/" .. key .. "?hit=false")
  end
  if sent % 2 == 0 then
    return wrk.format("GET", "/badge/" .. key)
  end
  return wrk.format("GET", "/api/" .. key)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then
    if string.find(headers["Cache-Control"] or "", "no-store", 1, true) then
      counted = counted + 1
    else
      reads = reads + 1
    end
  end
end

function done(summary, latency, requests)
  local c, r, total = 0, 0, {}
  for _, t in ipairs(threads) do
    c = c + t:get("counted")
    r = r + t:get("reads")
    for s, k in pairs(t:get("statuses")) do
      total[s] = (total[s] or 0) + k
    end
  end
  io.write(string.format("counted %d\nreads %d\nrequests %d\n", c, r, summary.requests))
  for s, k in pairs(total) do
    io.write(string.format("status_%d %d\n", s, k))
  end
  local e = summary.errors
  io.write(string.format("errors_connect %d\nerrors_read %d\nerrors_write %d\nerrors_timeout %d\n",
    e.connect, e.read, e.write, e.timeout))
  io.write(string.format("duration_us %d\nlatency_p50_us %d\nlatency_p99_us %d\n",
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
