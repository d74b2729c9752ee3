-- fetch: take up to ARGV[1] ids from the ready list into this worker's pending list, count an
-- attempt for each, and return them with their payloads.
--
-- KEYS[1]  ready list        ({prefix}:ready)
-- KEYS[2]  pending list      ({prefix}:pending:WORKER)   ids this worker has taken and not settled
-- KEYS[3]  job store hash    ({prefix}:jobs)
-- KEYS[4]  attempts hash     ({prefix}:attempts)         id -> attempts started so far
-- KEYS[5]  missing counter   ({prefix}:missing)          ids dropped because their payload was gone
-- ARGV[1]  how many more ids to take from the ready list (0 is fine)
-- ARGV[2]  an id already moved into the pending list by BLMOVE, or '' for none
--
-- Returns {jobs, missing}: jobs is a flat list id1, payload1, attempts1, ...; missing lists the
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
for i = 1, #ids do
  local id = ids[i]
  local payload = redis.call('HGET', KEYS[3], id)
  if payload then
    jobs[#jobs + 1] = id
    jobs[#jobs + 1] = payload
    jobs[#jobs + 1] = redis.call('HINCRBY', KEYS[4], id, 1)
  else
    redis.call('LREM', KEYS[2], -1, id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('INCR', KEYS[5])
    missing[#missing + 1] = id
  end
end
return {jobs, missing}
