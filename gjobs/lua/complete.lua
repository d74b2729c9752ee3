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
-- under the worker now running it.
-- Jobs mostly finish in the order they were taken, and the oldest ids sit at the tail of the
-- pending list: the run of finished ids there goes in one LTRIM; the others are removed one by
-- one with LREM, which scans from the tail too, so each scan is short.
local wanted = {}
for i = 1, #ARGV do wanted[ARGV[i]] = true end
local done, n = {}, 0
local oldest = redis.call('LINDEX', KEYS[1], -1)
if oldest and wanted[oldest] then
  local tail = redis.call('LRANGE', KEYS[1], -#ARGV, -1)
  for i = #tail, 1, -1 do
    local id = tail[i]
    if not wanted[id] then break end
    wanted[id] = nil
    n = n + 1
    done[n] = id
  end
  redis.call('LTRIM', KEYS[1], 0, -n - 1)
end
for i = 1, #ARGV do
  local id = ARGV[i]
  if wanted[id] then
    wanted[id] = nil
    if redis.call('LREM', KEYS[1], -1, id) > 0 then
      n = n + 1
      done[n] = id
    end
  end
end
if n > 0 then
  -- One HDEL per hash for the whole batch rather than two commands per job.
  redis.call('HDEL', KEYS[2], unpack(done))
  redis.call('HDEL', KEYS[3], unpack(done))
  redis.call('INCRBY', KEYS[4], n)
end
return n
