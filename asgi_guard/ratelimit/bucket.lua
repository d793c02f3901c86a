-- asgi_guard rate limiting: GCRA over several keys, all-or-nothing, in one call.
-- KEYS[i]: bucket key i (one stored integer: the theoretical arrival time, epoch microseconds).
-- ARGV[1]: "c" to check and consume, "r" to refund (give back what an earlier call took).
-- ARGV[2 + 4(i-1) ..]: interval_us, burst, cost, enforce (1, or 0 for a shadow limit).
-- The clock is the server's TIME: one consistent now for every client. Replies are integers only
-- (Lua numbers would be truncated): {allowed, now_us, then per key: ok, remaining, reset_us, retry_us}.
-- Mirrors asgi_guard/ratelimit/gcra.py step for step.
local time = redis.call("TIME")
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local n = #KEYS

-- Floor division that stays exact where a double quotient could round up across an integer.
local function idiv(a, b)
  local q = math.floor(a / b)
  if q * b > a then
    q = q - 1
  elseif (q + 1) * b <= a then
    q = q + 1
  end
  return q
end

if ARGV[1] == "r" then
  for i = 1, n do
    local old = redis.call("GET", KEYS[i])
    if old then
      local base = 2 + 4 * (i - 1)
      local new_tat = tonumber(old) - tonumber(ARGV[base + 2]) * tonumber(ARGV[base])
      if new_tat > now then
        redis.call("SET", KEYS[i], string.format("%d", new_tat), "PX", math.ceil((new_tat - now) / 1000))
      else
        redis.call("DEL", KEYS[i])
      end
    end
  end
  return {1, now}
end

local tats = {}
local denied = false
for i = 1, n do
  local base = 2 + 4 * (i - 1)
  local old = tonumber(redis.call("GET", KEYS[i]))
  local tat = now
  if old and old > now then
    tat = old
  end
  tats[i] = tat
  local interval = tonumber(ARGV[base])
  if ARGV[base + 3] == "1" and tat + (tonumber(ARGV[base + 2]) - tonumber(ARGV[base + 1])) * interval > now then
    denied = true
  end
end

local reply = {denied and 0 or 1, now}
for i = 1, n do
  local base = 2 + 4 * (i - 1)
  local interval = tonumber(ARGV[base])
  local span = tonumber(ARGV[base + 1]) * interval
  local tat = tats[i]
  local new_tat = tat + tonumber(ARGV[base + 2]) * interval
  local allow_at = new_tat - span
  local k = 3 + 4 * (i - 1)
  if allow_at > now then
    reply[k] = 0
    reply[k + 1] = math.max(0, idiv(span - (tat - now), interval))
    reply[k + 2] = tat - now
    reply[k + 3] = allow_at - now
  elseif denied then
    reply[k] = 1
    reply[k + 1] = idiv(span - (tat - now), interval)
    reply[k + 2] = tat - now
    reply[k + 3] = 0
  else
    if new_tat > now then
      redis.call("SET", KEYS[i], string.format("%d", new_tat), "PX", math.ceil((new_tat - now) / 1000))
    end
    reply[k] = 1
    reply[k + 1] = idiv(span - (new_tat - now), interval)
    reply[k + 2] = new_tat - now
    reply[k + 3] = 0
  end
end
return reply
