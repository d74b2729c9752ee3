-- complete: settle finished jobs: drop them from this worker's pending list, delete their
-- payloads, attempt counts and progress, add them to the completed counter,
-- record each as succeeded in the finished jobs (kept bounded by count and age), and release
-- their unique keys.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  job store hash    ({prefix}:jobs)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  completed counter ({prefix}:completed)
-- KEYS[5]  progress hash     ({prefix}:progress)      id -> JSON progress a running job reported
-- KEYS[6]  finished jobs     ({prefix}:done)          id -> "when it ended" (Redis's clock), or
--                                                   "when|state|ran for|attempts|worker"
-- KEYS[7]  finished, older   ({prefix}:done:old)      the previous generation of KEYS[6]
-- KEYS[8]  unique keys       ({prefix}:unique)        unique key -> id of the job holding it
-- KEYS[9]  unique key of id  ({prefix}:unique:of)     id -> its unique key
-- KEYS[10] this minute       ({prefix}:minute:N)      counts of the minute (see gjobs/counts.py)
-- ARGV[1]  this worker's id
-- ARGV[2]  finished jobs kept (0: none; twice as many at most)
-- ARGV[3]  seconds a finished job is kept (twice as long at most)
-- ARGV[4]  '' or a JSON object {id: seconds it ran} of those whose run time and attempts are kept
-- ARGV[5]  '1' when some of the jobs hold a unique key, else '0'
-- ARGV[6]  seconds the minute's counts are kept after their last write
-- ARGV     then id1, id2, ...     (a batch of a few hundred at most)
--
-- Returns how many ids were settled. An id no longer in the pending list (its worker was presumed
-- dead and the job requeued) is left alone, so the job runs again rather than losing its payload
-- under the worker now running it.
-- Jobs mostly finish in the order they were taken, and the oldest ids sit at the tail of the
-- pending list: the run of finished ids there goes in one LTRIM; the others are removed one by
-- one with LREM, which scans from the tail too, so each scan is short. Every other change is one
-- command per batch: from Lua, a command costs more than its work.
local count = #ARGV - 6
local wanted = {}
for i = 7, #ARGV do wanted[ARGV[i]] = true end
local done, n = {}, 0
local oldest = redis.call('LINDEX', KEYS[1], -1)
if oldest and wanted[oldest] then
  local tail = redis.call('LRANGE', KEYS[1], -count, -1)
  for i = #tail, 1, -1 do
    local id = tail[i]
    if not wanted[id] then break end
    wanted[id] = nil
    n = n + 1
    done[n] = id
  end
  redis.call('LTRIM', KEYS[1], 0, -n - 1)
end
for i = 7, #ARGV do
  local id = ARGV[i]
  if wanted[id] then
    wanted[id] = nil
    if redis.call('LREM', KEYS[1], -1, id) > 0 then
      n = n + 1
      done[n] = id
    end
  end
end
if n == 0 then return 0 end
-- A finished job's record is one field of the finished hash: when it ended, and for jobs that
-- ask for more (ARGV[4]) how long it ran, its attempts and this worker. The hash is a
-- generation: when it holds ARGV[2] records, or is ARGV[3] seconds old, it becomes the previous
-- generation (dropping the one before, freed off Redis's main thread by UNLINK) and a new one
-- starts. So the last ARGV[2] finished jobs of the last ARGV[3] seconds are always found, at most
-- twice as many are kept, none longer than twice ARGV[3] (each generation expires by itself),
-- and a job costs one field: no sorted set to keep ordered, no trim per call.
local keep = tonumber(ARGV[2])
if keep > 0 then
  local time = redis.call('TIME')
  local stamp = string.format('%s.%06d', time[1], tonumber(time[2]))
  local records = {}
  for i = 1, n do
    records[2 * i - 1] = done[i]
    records[2 * i] = stamp
  end
  if ARGV[4] ~= '' then
    local ran = cjson.decode(ARGV[4])
    local tracked, at = {}, {}
    for i = 1, n do
      if ran[done[i]] then
        tracked[#tracked + 1] = done[i]
        at[#at + 1] = i
      end
    end
    if #tracked > 0 then
      local counts = redis.call('HMGET', KEYS[3], unpack(tracked))
      for j = 1, #tracked do
        records[2 * at[j]] = string.format('%s|succeeded|%.6f|%d|%s', stamp, ran[tracked[j]],
          tonumber(counts[j]) or 0, ARGV[1])
      end
    end
  end
  -- Turned over before the write, so that what is written now lives a whole generation.
  local age = math.floor(tonumber(ARGV[3]) * 1000)
  local ttl = redis.call('PTTL', KEYS[6])
  if ttl >= 0 and (ttl <= age or redis.call('HLEN', KEYS[6]) >= keep) then
    redis.call('UNLINK', KEYS[7])
    redis.call('RENAME', KEYS[6], KEYS[7])
    ttl = -2
  end
  redis.call('HSET', KEYS[6], unpack(records))  -- also overwrites a cancel that came too late
  if ttl < 0 then redis.call('PEXPIRE', KEYS[6], 2 * age) end
end
if ARGV[5] == '1' then  -- some of these jobs hold unique keys: release them
  local uniques = redis.call('HMGET', KEYS[9], unpack(done))
  for i = 1, n do
    local key = uniques[i]
    if key and redis.call('HGET', KEYS[8], key) == done[i] then redis.call('HDEL', KEYS[8], key) end
  end
  redis.call('HDEL', KEYS[9], unpack(done))
end
redis.call('HDEL', KEYS[2], unpack(done))
redis.call('HDEL', KEYS[3], unpack(done))
-- Most queues have no progress at all: then not even the ids are handed to an HDEL.
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('HDEL', KEYS[5], unpack(done)) end
redis.call('INCRBY', KEYS[4], n)
redis.call('HINCRBY', KEYS[10], 'succeeded', n)
redis.call('EXPIRE', KEYS[10], ARGV[6])
return n
