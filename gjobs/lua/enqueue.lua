-- enqueue: store job payloads and make their ids ready to run.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)      id -> encoded job
-- KEYS[2]  ready list        ({prefix}:ready)     ids, pushed on the left, taken from the right
-- ARGV     id1, payload1, id2, payload2, ...      (at most a few thousand pairs per call)
--
-- Returns the number of ids pushed.
-- Atomic so that an id is never ready without its payload, nor a payload stored without its id.
local ids = {}
for i = 1, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  ids[#ids + 1] = ARGV[i]
end
return redis.call('LPUSH', KEYS[2], unpack(ids))
