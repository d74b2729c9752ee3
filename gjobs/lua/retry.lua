-- retry: settle a job whose attempt failed and that has attempts left: move it from this
-- worker's pending list to the delayed set, due ARGV[2] seconds from now by Redis's clock.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  delayed set       ({prefix}:delayed)       id -> due time, epoch seconds
-- KEYS[3]  retried counter   ({prefix}:retried)
-- KEYS[4]  this minute       ({prefix}:minute:N)      counts of the minute (see gjobs/counts.py)
-- ARGV[1]  id
-- ARGV[2]  seconds from now (Redis's clock) to run it again
-- ARGV[3]  wake-up channel, published to when the retry is due before every other delayed job
-- ARGV[4]  seconds the minute's counts are kept after their last write
--
-- Returns 1 when settled, 0 when the id was no longer in the pending list (it was requeued by a
-- recovery meanwhile, and whoever holds it now decides).
-- Atomic so that the id leaves the pending list only by entering the delayed set. The wake-up
-- is a courtesy: a user whose ACL refuses the channel still settles the job (pcall).
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local time = redis.call('TIME')
local when = tonumber(time[1]) + tonumber(time[2]) / 1000000 + tonumber(ARGV[2])
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[2], when, ARGV[1])
redis.call('INCR', KEYS[3])
redis.call('HINCRBY', KEYS[4], 'retried', 1)
redis.call('EXPIRE', KEYS[4], ARGV[4])
if first[2] == nil or when < tonumber(first[2]) then
  redis.pcall('PUBLISH', ARGV[3], tostring(when))
end
return 1
