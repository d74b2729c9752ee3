-- release: on graceful shutdown, put this worker's unfinished jobs back at the front of the
-- ready list (they run next), at most ARGV[2] per call; once none is left, deregister the worker.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  ready list        ({prefix}:ready)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  worker registry   ({prefix}:workers)
-- KEYS[5]  worker info hash  ({prefix}:workers:info)
-- ARGV[1]  the worker's id
-- ARGV[2]  limit
--
-- Returns {released, done}. A shutdown is not the job's fault, so the attempt it was counted
-- for is given back. The pending list holds the newest id on the left: popping from the left and
-- pushing on the right leaves the oldest id at the right end, which workers take first.
local ids = redis.call('LPOP', KEYS[1], tonumber(ARGV[2]))
local released = 0
if ids then
  for i = 1, #ids do
    if redis.call('HINCRBY', KEYS[3], ids[i], -1) <= 0 then redis.call('HDEL', KEYS[3], ids[i]) end
  end
  redis.call('RPUSH', KEYS[2], unpack(ids))
  released = #ids
end
if redis.call('LLEN', KEYS[1]) > 0 then return {released, 0} end
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
return {released, 1}
