-- bench/soak-status.lua - appended by bench/soak to its wrk scripts: counts
-- every answer that is not 2xx by status and the start of its body, so the
-- soak report says what the unexpected answers were. wrk copies each
-- thread's table back in done().
local threads = {}
function setup(thread) table.insert(threads, thread) end
bad = {}
function response(status, headers, body)
  if status < 200 or status > 299 then
    local k = tostring(status) .. " " .. string.gsub(string.sub(body or "", 1, 100), "[%c]", " ")
    bad[k] = (bad[k] or 0) + 1
  end
end
function done(summary, latency, requests)
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("bad") or {}) do
      io.write(string.format("STATUS %d %s\n", v, k))
    end
  end
end
