-- fetch: take up to ARGV[1] ids from the ready list into this worker's pending list, count an
-- attempt for each, and return them with their payloads.
--
-- KEYS[1]  ready list        ({prefix}:ready)
-- KEYS[2]  pending list      ({prefix}:pending:WORKER)   ids this worker has taken and not settled
-- KEYS[3]  job store hash    ({prefix}:jobs)
-- KEYS[4]  attempts hash     ({prefix}:attempts)         id -> attempts started so far
-- KEYS[5]  missing counter   ({prefix}:missing)          ids dropped because their payload was gone
-- KEYS[6]  pause flag        ({prefix}:paused)           set while the queue is paused
-- KEYS[7]  cancelled ids     ({prefix}:cancels)          id -> when its cancel was asked
-- KEYS[8]  finished jobs     ({prefix}:done)             id -> when it ended (and how)
-- KEYS[9]  finished, older   ({prefix}:done:old)         the previous generation of KEYS[8]
-- ARGV[1]  how many more ids to take from the ready list (0 is fine; a few thousand at most)
-- ARGV[2]  an id already moved into the pending list by BLMOVE, or '' for none
--
-- Returns {jobs, missing, now, paused}: jobs is a flat list of records id1, payload1, attempts1,
-- id2, ... (flat: nested tables cost Redis 10-15% more CPU per job to build and send); missing
-- lists the ids that had no payload: they are removed from the pending list and counted, never
-- run (a cancelled job's id, or one that finished elsewhere while this worker held it frozen, is
-- dropped the same way, quietly and not counted); now is Redis's
-- time; paused is 1 when the queue is paused: nothing is taken, and a claimed id goes back.
-- The attempt is counted here, when the job is handed out, so a worker that dies while running
-- it has already spent that attempt: a job that kills every worker cannot run forever.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
if redis.call('EXISTS', KEYS[6]) == 1 then
  if ARGV[2] ~= '' and redis.call('LREM', KEYS[2], -1, ARGV[2]) > 0 then
    redis.call('RPUSH', KEYS[1], ARGV[2])
  end
  return {{}, {}, tostring(now), 1}
end
local ids = {}
if ARGV[2] ~= '' then ids[1] = ARGV[2] end
local want = tonumber(ARGV[1])
if want > 0 then
  local taken = redis.call('RPOP', KEYS[1], want)
  if taken then
    redis.call('LPUSH', KEYS[2], unpack(taken))
    for i = 1, #taken do ids[#ids + 1] = taken[i] end
  end
end
local jobs, missing = {}, {}
if #ids == 0 then return {jobs, missing, tostring(now), 0} end
-- A few commands per batch and none per job: from Lua, a command costs more than its work.
-- The attempts are read and written back in one HMGET and one HSET; `counted` carries an id
-- seen twice in one batch from its first count to its second, as two HINCRBYs would.
local payloads = redis.call('HMGET', KEYS[3], unpack(ids))
local counts = redis.call('HMGET', KEYS[4], unpack(ids))
local counted, started = {}, {}
local j, n = 0, 0  -- lengths of jobs and started: cheaper than # in a loop
for i = 1, #ids do
  local id = ids[i]
  local payload = payloads[i]
  if payload then
    local attempts = (counted[id] or tonumber(counts[i]) or 0) + 1
    counted[id] = attempts
    jobs[j + 1] = id
    jobs[j + 2] = payload
    jobs[j + 3] = attempts
    j = j + 3
    started[n + 1] = id
    started[n + 2] = attempts
    n = n + 2
  else
    redis.call('LREM', KEYS[2], -1, id)
    redis.call('HDEL', KEYS[4], id)
    if redis.call('ZREM', KEYS[7], id) == 0 and redis.call('HEXISTS', KEYS[8], id) == 0
        and redis.call('HEXISTS', KEYS[9], id) == 0 then
      redis.call('INCR', KEYS[5])
      missing[#missing + 1] = id
    end
  end
end
if n > 0 then redis.call('HSET', KEYS[4], unpack(started)) end
return {jobs, missing, tostring(now), 0}
