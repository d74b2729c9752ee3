-- complete: settle finished jobs: drop them from this worker's pending list, delete their
-- payloads, attempt counts, start times and progress, add them to the completed counter,
-- record each as succeeded in the finished jobs (kept bounded by count and age), and release
-- their unique keys.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  job store hash    ({prefix}:jobs)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  completed counter ({prefix}:completed)
-- KEYS[5]  start times hash  ({prefix}:started)       id -> when its run started (Redis's clock)
-- KEYS[6]  progress hash     ({prefix}:progress)      id -> JSON progress a running job reported
-- KEYS[7]  finished set      ({prefix}:finished)      id -> when it ended (Redis's clock)
-- KEYS[8]  finished records  ({prefix}:finished:info) id -> "state|ran for|attempts|worker" of
--                                                   a job that did not succeed (cancel, expiry)
-- KEYS[9]  unique keys       ({prefix}:unique)        unique key -> id of the job holding it
-- KEYS[10] unique key of id  ({prefix}:unique:of)     id -> its unique key
-- ARGV[1]  this worker's id
-- ARGV[2]  finished jobs kept at most (0: none)
-- ARGV[3]  seconds a finished job is kept
-- ARGV[4]  '' or a JSON list of the ids among them whose run time and attempts are kept
-- ARGV[5]  '1' when some of the jobs hold a unique key, else '0'
-- ARGV     then id1, id2, ...     (a batch of a few hundred at most)
--
-- Returns how many ids were settled. An id no longer in the pending list (its worker was presumed
-- dead and the job requeued) is left alone, so the job runs again rather than losing its payload
-- under the worker now running it.
-- Jobs mostly finish in the order they were taken, and the oldest ids sit at the tail of the
-- pending list: the run of finished ids there goes in one LTRIM; the others are removed one by
-- one with LREM, which scans from the tail too, so each scan is short. Every other change is one
-- command per batch: from Lua, a command costs more than its work.
local count = #ARGV - 5
local wanted = {}
for i = 6, #ARGV do wanted[ARGV[i]] = true end
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
for i = 6, #ARGV do
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
-- A succeeded job's record is its place in the finished set (when it ended): one ZADD per job,
-- all scored by one string. Jobs that ask for more (ARGV[4]: the ids whose run time and attempts
-- are kept too) get a record in the finished records hash. The trims are single commands that
-- send nothing back; records of jobs trimmed from the set are dropped by the lookup, and the
-- hash is cut back at random, a bounded number per call, when it outgrows the set's bound.
local keep = tonumber(ARGV[2])
if keep > 0 then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
  local stamp = string.format('%d.%06d', tonumber(time[1]), tonumber(time[2]))
  local scored = {}
  for i = 1, n do
    scored[2 * i - 1] = stamp
    scored[2 * i] = done[i]
  end
  redis.call('ZADD', KEYS[7], unpack(scored))
  -- A cancel that came too late (the job ran to its end first) left a record saying cancelled.
  redis.call('HDEL', KEYS[8], unpack(done))
  local excess = redis.call('ZCARD', KEYS[7]) - keep
  if excess > 0 then redis.call('ZREMRANGEBYRANK', KEYS[7], 0, excess - 1) end
  redis.call('ZREMRANGEBYSCORE', KEYS[7], '-inf', now - tonumber(ARGV[3]))
  if ARGV[4] ~= '' then
    local settled, tracked = {}, {}
    for i = 1, n do settled[done[i]] = true end
    for _, id in ipairs(cjson.decode(ARGV[4])) do
      if settled[id] then tracked[#tracked + 1] = id end
    end
    if #tracked > 0 then
      local starts = redis.call('HMGET', KEYS[5], unpack(tracked))
      local counts = redis.call('HMGET', KEYS[3], unpack(tracked))
      local records = {}
      for i = 1, #tracked do
        records[2 * i - 1] = tracked[i]
        records[2 * i] = string.format('succeeded|%.6f|%d|%s', now - (tonumber(starts[i]) or now),
          tonumber(counts[i]) or 0, ARGV[1])
      end
      redis.call('HSET', KEYS[8], unpack(records))
      if redis.call('HLEN', KEYS[8]) > keep then
        local victims = redis.call('HRANDFIELD', KEYS[8], 100)
        if #victims > 0 then redis.call('HDEL', KEYS[8], unpack(victims)) end
      end
    end
  end
end
if ARGV[5] == '1' then  -- some of these jobs hold unique keys: release them
  local uniques = redis.call('HMGET', KEYS[10], unpack(done))
  for i = 1, n do
    local key = uniques[i]
    if key and redis.call('HGET', KEYS[9], key) == done[i] then redis.call('HDEL', KEYS[9], key) end
  end
  redis.call('HDEL', KEYS[10], unpack(done))
end
redis.call('HDEL', KEYS[2], unpack(done))
redis.call('HDEL', KEYS[3], unpack(done))
redis.call('HDEL', KEYS[5], unpack(done))
redis.call('HDEL', KEYS[6], unpack(done))
redis.call('INCRBY', KEYS[4], n)
return n
