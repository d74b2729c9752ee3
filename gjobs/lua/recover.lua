-- recover: give the jobs of a worker that stopped heartbeating back to the ready list, at most
-- ARGV[4] per call; once its pending list is empty, forget the worker. A job out of attempts is
-- buried instead, as bury.lua buries: its progress goes and its unique key is released.
--
-- KEYS[1]  worker registry   ({prefix}:workers)        worker -> last heartbeat, epoch seconds
-- KEYS[2]  worker info hash  ({prefix}:workers:info)   worker -> JSON (host, pid, started, ...)
-- KEYS[3]  its pending list  ({prefix}:pending:WORKER)
-- KEYS[4]  ready list        ({prefix}:ready)
-- KEYS[5]  attempts hash     ({prefix}:attempts)
-- KEYS[6]  dead set          ({prefix}:dead)
-- KEYS[7]  dead errors hash  ({prefix}:dead:errors)
-- KEYS[8]  buried counter    ({prefix}:buried)
-- KEYS[9]  this minute       ({prefix}:minute:N)      counts of the minute (see gjobs/counts.py)
-- KEYS[10] progress hash     ({prefix}:progress)
-- KEYS[11] unique keys       ({prefix}:unique)
-- KEYS[12] unique key of id  ({prefix}:unique:of)
-- ARGV[1]  the worker's id
-- ARGV[2]  stale before: a worker whose last beat is at or after this is alive and left alone
-- ARGV[3]  max attempts (0 = unlimited): a job that has used them all is buried, not requeued
-- ARGV[4]  limit: the most ids handled by this call (the caller loops until done)
-- ARGV[5]  now, epoch seconds, for the dead set's score
-- ARGV[6]  the JSON error record for a buried job
-- ARGV[7]  seconds the minute's counts are kept after their last write
--
-- Returns {requeued, buried, done}; requeued is -1 when the worker turned out to be alive.
-- The staleness check and the moves are one script, so two workers recovering the same dead
-- worker at once never both requeue one id, and a worker that beats again in between keeps its
-- jobs. The registry entry is removed only when the list is empty, so a recovery interrupted
-- half-way is finished by the next one.
local beat = redis.call('ZSCORE', KEYS[1], ARGV[1])
if beat and tonumber(beat) >= tonumber(ARGV[2]) then return {-1, 0, 0} end
local max = tonumber(ARGV[3])
local requeued, buried = 0, 0
local ids = redis.call('RPOP', KEYS[3], tonumber(ARGV[4]))
if ids then
  for i = 1, #ids do
    local id = ids[i]
    local attempts = tonumber(redis.call('HGET', KEYS[5], id) or '0')
    if max > 0 and attempts >= max then
      redis.call('ZADD', KEYS[6], tonumber(ARGV[5]), id)
      redis.call('HSET', KEYS[7], id, ARGV[6])
      redis.call('HDEL', KEYS[10], id)
      local key = redis.call('HGET', KEYS[12], id)
      if key and redis.call('HGET', KEYS[11], key) == id then redis.call('HDEL', KEYS[11], key) end
      redis.call('HDEL', KEYS[12], id)
      buried = buried + 1
    else
      redis.call('RPUSH', KEYS[4], id)
      requeued = requeued + 1
    end
  end
end
if buried > 0 then
  redis.call('INCRBY', KEYS[8], buried)
  redis.call('HINCRBY', KEYS[9], 'dead', buried)
  redis.call('EXPIRE', KEYS[9], ARGV[7])
end
if redis.call('LLEN', KEYS[3]) > 0 then return {requeued, buried, 0} end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return {requeued, buried, 1}
