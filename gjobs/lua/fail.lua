-- fail: settle a job whose attempt failed, as the failure policy decided: retry it later, or
-- bury it in the dead set with its error.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  delayed set       ({prefix}:delayed)
-- KEYS[3]  attempts hash     ({prefix}:attempts)   kept for a dead job, to show how often it ran
-- KEYS[4]  dead set          ({prefix}:dead)          id -> when it died, epoch seconds
-- KEYS[5]  dead errors hash  ({prefix}:dead:errors)   id -> JSON error record
-- ARGV[1]  id
-- ARGV[2]  'retry' or 'dead'
-- ARGV[3]  retry: when to run again (epoch seconds); dead: when it died
-- ARGV[4]  dead: the JSON error record
-- ARGV[5]  wake-up channel, published to when the retry is due before every other delayed job
--
-- Returns 1 when settled, 0 when the id was no longer in the pending list (it was requeued by a
-- recovery meanwhile, and whoever holds it now decides).
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local when = tonumber(ARGV[3])
if ARGV[2] == 'retry' then
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  redis.call('ZADD', KEYS[2], when, ARGV[1])
  if first[2] == nil or when < tonumber(first[2]) then
    redis.call('PUBLISH', ARGV[5], ARGV[3])
  end
else
  redis.call('ZADD', KEYS[4], when, ARGV[1])
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
end
return 1
