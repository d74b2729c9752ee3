-- fetch: take up to ARGV[1] ids from the ready list into this worker's pending list, count an
-- attempt for each, and return them with their payloads.
--
-- KEYS[1]  ready list        ({prefix}:ready)
-- KEYS[2]  pending list      ({prefix}:pending:WORKER)   ids this worker has taken and not settled
-- KEYS[3]  job store hash    ({prefix}:jobs)
-- KEYS[4]  attempts hash     ({prefix}:attempts)         id -> attempts started so far
-- KEYS[5]  missing counter   ({prefix}:missing)          ids dropped because their payload was gone
-- ARGV[1]  how many more ids to take from the ready list (0 is fine; a few thousand at most)
-- ARGV[2]  an id already moved into the pending list by BLMOVE, or '' for none
--
-- Returns {jobs, missing}: jobs is a flat list of records id1, payload1, attempts1, id2, ...
-- (flat: nested tables cost Redis 10-15% more CPU per job to build and send); missing lists the
-- ids that had no payload: they are removed from the pending list and counted, never run.
-- The attempt is counted here, when the job is handed out, so a worker that dies while running
-- it has already spent that attempt: a job that kills every worker cannot run forever.
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
if #ids == 0 then return {jobs, missing} end
-- A few commands per batch and none per job: from Lua, a command costs more than its work.
-- The attempts are read and written back in one HMGET and one HSET; `counted` carries an id
-- seen twice in one batch from its first count to its second, as two HINCRBYs would.
local payloads = redis.call('HMGET', KEYS[3], unpack(ids))
local counts = redis.call('HMGET', KEYS[4], unpack(ids))
local counted, started = {}, {}
local j, n = 0, 0  -- lengths of jobs and started: cheaper than the # operator in a loop
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
    redis.call('INCR', KEYS[5])
    missing[#missing + 1] = id
  end
end
if n > 0 then redis.call('HSET', KEYS[4], unpack(started)) end
return {jobs, missing}
