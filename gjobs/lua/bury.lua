-- bury: settle a job whose attempt failed for the last time (or that can never succeed): move
-- it from this worker's pending list to the dead set, with its error record, and release its
-- unique key (a dead job no longer keeps another like it out).
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  dead set          ({prefix}:dead)          id -> when it died, epoch seconds
-- KEYS[3]  dead errors hash  ({prefix}:dead:errors)   id -> JSON error record
-- KEYS[4]  progress hash     ({prefix}:progress)
-- KEYS[5]  unique keys       ({prefix}:unique)
-- KEYS[6]  unique key of id  ({prefix}:unique:of)
-- KEYS[7]  buried counter    ({prefix}:buried)
-- KEYS[8]  this minute       ({prefix}:minute:N)      counts of the minute (see gjobs/counts.py)
-- ARGV[1]  id
-- ARGV[2]  when it died, epoch seconds
-- ARGV[3]  the JSON error record
-- ARGV[4]  seconds the minute's counts are kept after their last write
--
-- Returns 1 when settled, 0 when the id was no longer in the pending list (it was requeued by a
-- recovery meanwhile, and whoever holds it now decides). The payload stays in the job store and
-- the attempt count in the attempts hash, so the dead job can be shown and retried.
-- Atomic so that a dead id always has its error record.
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], tonumber(ARGV[2]), ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
redis.call('HDEL', KEYS[4], ARGV[1])
local key = redis.call('HGET', KEYS[6], ARGV[1])
if key and redis.call('HGET', KEYS[5], key) == ARGV[1] then redis.call('HDEL', KEYS[5], key) end
redis.call('HDEL', KEYS[6], ARGV[1])
redis.call('INCR', KEYS[7])
redis.call('HINCRBY', KEYS[8], 'dead', 1)
redis.call('EXPIRE', KEYS[8], ARGV[4])
return 1
