-- purge_dead: delete dead jobs for good, payload and error included.
--
-- KEYS[1]  dead set          ({prefix}:dead)
-- KEYS[2]  dead errors hash  ({prefix}:dead:errors)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  job store hash    ({prefix}:jobs)
-- ARGV     id1, id2, ...     (a batch of a few hundred at most)
--
-- Returns how many were deleted; ids not in the dead set (retried meanwhile) are left alone.
local n = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    redis.call('HDEL', KEYS[4], ARGV[i])
    n = n + 1
  end
end
return n
