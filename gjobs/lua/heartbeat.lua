-- heartbeat: record that a worker is alive, and what it is.
--
-- KEYS[1]  worker registry   ({prefix}:workers)        worker -> last heartbeat, epoch seconds
-- KEYS[2]  worker info hash  ({prefix}:workers:info)   worker -> JSON
-- ARGV[1]  the worker's id
-- ARGV[2]  now, epoch seconds
-- ARGV[3]  the worker's JSON info (host, pid, started, concurrency, in flight)
--
-- Returns 1 when the worker was not registered: on its first beat, or after others presumed it
-- dead and requeued its jobs (the worker then knows some of its jobs may run twice).
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return added
