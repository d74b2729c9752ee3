-- finish: settle a job that ended without succeeding or dying: cancelled while it ran, or
-- expired before it started. It leaves this worker's pending list and the job store, and is
-- recorded in the finished jobs with its state; its unique key is released.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  job store hash    ({prefix}:jobs)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  start times hash  ({prefix}:started)
-- KEYS[5]  progress hash     ({prefix}:progress)
-- KEYS[6]  finished set      ({prefix}:finished)
-- KEYS[7]  finished records  ({prefix}:finished:info)
-- KEYS[8]  cancelled ids     ({prefix}:cancels)
-- KEYS[9]  counter           ({prefix}:cancelled or {prefix}:expired)
-- KEYS[10] unique keys       ({prefix}:unique)
-- KEYS[11] unique key of id  ({prefix}:unique:of)
-- ARGV[1]  id
-- ARGV[2]  the state: 'cancelled' or 'expired'
-- ARGV[3]  this worker's id
--
-- Returns 1 when settled, 0 when the id was no longer in the pending list (requeued by a
-- recovery meanwhile: whoever holds it now decides).
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local start = tonumber(redis.call('HGET', KEYS[4], ARGV[1]) or now)
local attempts = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or 0)
redis.call('ZADD', KEYS[6], now, ARGV[1])
redis.call('HSET', KEYS[7], ARGV[1], string.format('%s|%.6f|%d|%s', ARGV[2], now - start, attempts, ARGV[3]))
local key = redis.call('HGET', KEYS[11], ARGV[1])
if key and redis.call('HGET', KEYS[10], key) == ARGV[1] then redis.call('HDEL', KEYS[10], key) end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1])
redis.call('HDEL', KEYS[11], ARGV[1])
redis.call('ZREM', KEYS[8], ARGV[1])
redis.call('INCR', KEYS[9])
return 1
