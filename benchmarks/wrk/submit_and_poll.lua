-- P8: each connection (run with -t N -c N, one connection per thread) submits one 64x64 job,
-- polls GET /v1/jobs/{id} every 5 ms until it is completed (or failed), then submits the next.
-- The latency is taken from the job rows (created_at -> completed_at), not from wrk.
-- usage: wrk -t4 -c4 -d10s -s submit_and_poll.lua http://127.0.0.1:PORT -- keys.txt
local keys, key, job, polling = {}, nil, nil, false
-- counters are globals: wrk reads them from each thread with thread:get, which sees no locals
local threads = {}
done_jobs, errors5xx = 0, 0
local body = '{"prompt":"a lighthouse at dusk","model":"local","size":"64x64"}'

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then table.insert(keys, line) end
  end
  key = keys[(tid or 1) % #keys + 1]
end

function request()
  local headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
  if polling then
    return wrk.format("GET", "/v1/jobs/" .. job, headers)
  end
  return wrk.format("POST", "/v1/jobs", headers, body)
end

function delay()
  if polling then return 5 end
  return 0
end

function response(status, headers, body)
  if status >= 500 then errors5xx = errors5xx + 1 end
  if not polling then
    if status == 201 or status == 200 then
      job = body:match('"id"%s*:%s*"([^"]+)"')
      polling = job ~= nil
    end
  else
    local st = body:match('"status"%s*:%s*"([^"]+)"')
    if st == "completed" or st == "failed" or st == "cancelled" or status == 404 then
      polling = false
      done_jobs = done_jobs + 1
    end
  end
end

function done(summary, latency, requests)
  local total, errs = 0, 0
  for _, t in ipairs(threads) do
    total = total + (t:get("done_jobs") or 0)
    errs = errs + (t:get("errors5xx") or 0)
  end
  io.write(string.format("jobs=%d 5xx=%d\n", total, errs))
end
