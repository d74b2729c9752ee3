-- retry: settle a job whose attempt failed and that has attempts left: move it from this
-- worker's pending list to the delayed set, due at ARGV[2].
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  delayed set       ({prefix}:delayed)       id -> due time, epoch seconds
-- ARGV[1]  id
-- ARGV[2]  when to run again, epoch seconds
-- ARGV[3]  wake-up channel, published to when the retry is due before every other delayed job
--
-- Returns 1 when settled, 0 when the id was no longer in the pending list (it was requeued by a
-- recovery meanwhile, and whoever holds it now decides).
-- Atomic so that the id leaves the pending list only by entering the delayed set.
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local when = tonumber(ARGV[2])
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[2], when, ARGV[1])
if first[2] == nil or when < tonumber(first[2]) then
  redis.call('PUBLISH', ARGV[3], ARGV[2])
end
return 1
