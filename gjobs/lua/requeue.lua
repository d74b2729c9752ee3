-- requeue: put the given ids back at the front of the ready list if they are still in this
-- worker's pending list, giving back the attempt counted when they were fetched.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  ready list        ({prefix}:ready)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- ARGV     id1, id2, ...
--
-- Returns how many were requeued. Used for ids that reached the pending list while their
-- reply was lost (a connection cut during a fetch): the worker never saw them, and would keep
-- them there, heartbeating, forever.
local n = 0
for i = 1, #ARGV do
  if redis.call('LREM', KEYS[1], -1, ARGV[i]) > 0 then
    if redis.call('HINCRBY', KEYS[3], ARGV[i], -1) <= 0 then redis.call('HDEL', KEYS[3], ARGV[i]) end
    redis.call('RPUSH', KEYS[2], ARGV[i])
    n = n + 1
  end
end
return n
