-- POST /v1/jobs with a 64x64 `local` job; API keys are read from the file named by the first
-- script argument (one per line) and used round robin, so concurrent requests mostly charge
-- different accounts. Counts 5xx answers per thread; `done` prints "5xx=<n>".
-- usage: wrk -t2 -c64 -d10s --latency -s post_job.lua http://127.0.0.1:PORT/v1/jobs -- keys.txt
-- `errors5xx` is a global: wrk reads it from each thread with thread:get, which sees no locals
local keys, counter = {}, 0
errors5xx = 0
local threads = {}
local body = '{"prompt":"a lighthouse at dusk","model":"local","size":"64x64"}'

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] then
    for line in io.lines(args[1]) do
      if #line > 0 then table.insert(keys, line) end
    end
  end
  if #keys == 0 then keys = {"none"} end
  counter = math.random(#keys)
end

function request()
  counter = counter % #keys + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Authorization"] = "Bearer " .. keys[counter]}, body)
end

function response(status, headers, body)
  if status >= 500 then errors5xx = errors5xx + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("errors5xx") or 0) end
  io.write(string.format("5xx=%d\n", total))
end
