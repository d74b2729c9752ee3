-- stale: the workers of a queue whose last beat is too old, judged by Redis's clock.
--
-- KEYS[1]  worker registry   ({prefix}:workers)        worker -> last heartbeat, epoch seconds
-- ARGV[1]  seconds of silence after which a worker is presumed dead (two heartbeat intervals)
-- ARGV[2]  the most workers listed
-- ARGV[3]  now, epoch seconds, or '' for Redis's own clock (TIME)
--
-- Returns {now, ids}: the time the judgement was made at (as a string, for the recovery that
-- follows) and the ids, oldest first. A script only so that TIME is read on the server that
-- holds the registry (on a cluster, the master of the queue's slot), not on a random node.
local now = tonumber(ARGV[3])
if ARGV[3] == '' then
  local time = redis.call('TIME')
  now = tonumber(time[1]) + tonumber(time[2]) / 1000000
end
local before = string.format('(%.6f', now - tonumber(ARGV[1]))  -- '(': older than, strictly
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', before, 'LIMIT', 0, tonumber(ARGV[2]))
return {tostring(now), ids}
