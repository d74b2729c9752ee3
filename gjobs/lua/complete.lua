-- complete: settle finished jobs: drop them from this worker's pending list, delete their
-- payloads and attempt counts, and add them to the completed counter.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  job store hash    ({prefix}:jobs)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  completed counter ({prefix}:completed)
-- ARGV     id1, id2, ...     (a batch of a few hundred at most)
--
-- Returns how many ids were settled. An id no longer in the pending list (its worker was presumed
-- dead and the job requeued) is left alone, so the job runs again rather than losing its payload
-- under the worker now running it. LREM scans from the tail, where the oldest ids sit, so the
-- scan is short when jobs finish roughly in the order they were taken.
local done = 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    done = done + 1
  end
end
if done > 0 then redis.call('INCRBY', KEYS[4], done) end
return done
