-- run_now: move delayed jobs to the front of the ready list, so that they run next.
--
-- KEYS[1]  delayed set       ({prefix}:delayed)
-- KEYS[2]  ready list        ({prefix}:ready)
-- ARGV     id1, id2, ...     (a batch of a few hundred at most)
--
-- Returns how many were moved; ids not in the delayed set are skipped. Atomic so that an id
-- leaves the delayed set only by entering the ready list.
local n = 0
for i = 1, #ARGV do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    redis.call('RPUSH', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
