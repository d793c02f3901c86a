-- asgi_guard abuse detection: windowed counters and capped distinct sets, several at once.
-- KEYS[i]: a counter (kind "n") or a set (kind "d").
-- ARGV[4(i-1)+1 ..]: kind, member (sets), cap (sets: members kept at most), window_ms.
-- A window opens with the key's first occurrence and closes when the key expires.
-- Reply per key: {count, added (1 when this call counted), ttl_ms (left in the window)}.
local reply = {}
for i = 1, #KEYS do
  local base = 4 * (i - 1)
  local window = tonumber(ARGV[base + 4])
  local count
  local added = 0
  if ARGV[base + 1] == "n" then
    count = redis.call("INCR", KEYS[i])
    added = 1
    if count == 1 then
      redis.call("PEXPIRE", KEYS[i], window)
    end
  else
    count = redis.call("SCARD", KEYS[i])
    if count < tonumber(ARGV[base + 3]) then
      added = redis.call("SADD", KEYS[i], ARGV[base + 2])
      if added == 1 then
        count = count + 1
        if count == 1 then
          redis.call("PEXPIRE", KEYS[i], window)
        end
      end
    end
  end
  local ttl = redis.call("PTTL", KEYS[i])
  reply[#reply + 1] = count
  reply[#reply + 1] = added
  reply[#reply + 1] = ttl
end
return reply
