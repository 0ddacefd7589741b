-- P5: POST /v1/images/generations (sync, b64_json, 1024x1024) with the key in the first argument.
-- usage: wrk -t1 -c1 -d10s --latency -s post_image.lua http://127.0.0.1:PORT/v1/images/generations -- KEY
-- `errors` is a global: wrk reads it from each thread with thread:get, which sees no locals
local threads, key = {}, "none"
errors = 0
local body = '{"model":"gpt-image-2","prompt":"a watercolor lighthouse at dawn","n":1,' ..
             '"size":"1024x1024","response_format":"b64_json"}'

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  if args[1] then key = args[1] end
end

function request()
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                                  ["Authorization"] = "Bearer " .. key}, body)
end

function response(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("errors") or 0) end
  io.write(string.format("non200=%d\n", total))
end
