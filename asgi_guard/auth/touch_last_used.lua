-- Record when an API key was last used, only if its record still exists (a deleted key must not
-- come back as a stub hash). KEYS[1] = the key's hash name, ARGV[1] = epoch seconds.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_used_at', ARGV[1])
  return 1
end
return 0
