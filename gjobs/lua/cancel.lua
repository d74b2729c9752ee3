-- cancel: make a job never run (again). A delayed job leaves the delayed set; a ready or running
-- job loses its payload, so a fetch drops it quietly, and its id is noted and published so the
-- worker running it stops it. Either way it is recorded as cancelled and its unique key freed.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)
-- KEYS[2]  delayed set       ({prefix}:delayed)
-- KEYS[3]  dead set          ({prefix}:dead)
-- KEYS[4]  attempts hash     ({prefix}:attempts)
-- KEYS[5]  cancelled ids     ({prefix}:cancels)       id -> when its cancel was asked
-- KEYS[6]  finished jobs     ({prefix}:done)          id -> "when|cancelled|0|attempts|" (a worker
--                                                   that settles turns its generations over)
-- KEYS[7]  unique keys       ({prefix}:unique)
-- KEYS[8]  unique key of id  ({prefix}:unique:of)
-- KEYS[9]  cancelled counter ({prefix}:cancelled)
-- ARGV[1]  id
-- ARGV[2]  cancel channel, published to with the id so that the worker running it stops it
-- ARGV[3]  seconds a cancel request is kept for a job still queued or running
-- ARGV[4]  milliseconds the finished jobs' generation lives when this cancel starts it (no worker
--          settled a job yet: it would, with its own keep_finished_age)
--
-- Returns 1 when a delayed or ready job was removed, 2 when the job may be running (its worker
-- is told), 0 when there is no such queued or running job (unknown, finished or dead).
-- Atomic against fetch: a fetch either took the payload before (the job runs, and is told to
-- stop) or finds it gone (the job never starts).
if redis.call('ZSCORE', KEYS[3], ARGV[1]) then return 0 end
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local removed = redis.call('ZREM', KEYS[2], ARGV[1]) == 1
redis.call('HDEL', KEYS[1], ARGV[1])
local key = redis.call('HGET', KEYS[8], ARGV[1])
if key and redis.call('HGET', KEYS[7], key) == ARGV[1] then redis.call('HDEL', KEYS[7], key) end
redis.call('HDEL', KEYS[8], ARGV[1])
local attempts = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or 0)
redis.call('HSET', KEYS[6], ARGV[1], string.format('%s.%06d|cancelled|0|%d|', time[1], tonumber(time[2]), attempts))
if redis.call('PTTL', KEYS[6]) < 0 then redis.call('PEXPIRE', KEYS[6], ARGV[4]) end
redis.call('INCR', KEYS[9])
if removed then
  redis.call('HDEL', KEYS[4], ARGV[1])
  return 1
end
-- Old requests (jobs that ended otherwise) are forgotten, a bounded number per call.
local old = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now - tonumber(ARGV[3]), 'LIMIT', 0, 100)
if #old > 0 then redis.call('ZREM', KEYS[5], unpack(old)) end
redis.call('ZADD', KEYS[5], now, ARGV[1])
redis.pcall('PUBLISH', ARGV[2], ARGV[1])
return 2
