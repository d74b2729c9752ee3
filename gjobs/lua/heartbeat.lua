-- heartbeat: record that a worker is alive, and what it is.
--
-- KEYS[1]  worker registry   ({prefix}:workers)        worker -> last heartbeat, epoch seconds
-- KEYS[2]  worker info hash  ({prefix}:workers:info)   worker -> JSON
-- ARGV[1]  the worker's id
-- ARGV[2]  the time of the beat, epoch seconds, or '' for Redis's own clock (TIME)
-- ARGV[3]  the worker's JSON info (host, pid, started, concurrency, in flight)
--
-- Returns 1 when the worker was not registered: on its first beat, or after others presumed it
-- dead and requeued its jobs (the worker then knows some of its jobs may run twice).
-- Beats are scored by Redis's clock, the one clock every worker of the queue shares, so that a
-- worker whose own clock is off can neither look dead nor make others look dead.
local when = ARGV[2]
if when == '' then
  local time = redis.call('TIME')
  when = tonumber(time[1]) + tonumber(time[2]) / 1000000
end
local added = redis.call('ZADD', KEYS[1], when, ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return added
