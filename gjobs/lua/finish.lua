-- finish: settle a job that ended without succeeding or dying: cancelled while it ran, or
-- expired before it started. It leaves this worker's pending list and the job store, and is
-- recorded in the finished jobs with its state; its unique key is released.
--
-- KEYS[1]  pending list      ({prefix}:pending:WORKER)
-- KEYS[2]  job store hash    ({prefix}:jobs)
-- KEYS[3]  attempts hash     ({prefix}:attempts)
-- KEYS[4]  progress hash     ({prefix}:progress)
-- KEYS[5]  finished jobs     ({prefix}:done)          id -> "when|state|ran for|attempts|worker"
-- KEYS[6]  finished, older   ({prefix}:done:old)      the previous generation of KEYS[5]
-- KEYS[7]  cancelled ids     ({prefix}:cancels)
-- KEYS[8]  counter           ({prefix}:cancelled or {prefix}:expired)
-- KEYS[9]  unique keys       ({prefix}:unique)
-- KEYS[10] unique key of id  ({prefix}:unique:of)
-- ARGV[1]  id
-- ARGV[2]  the state: 'cancelled' or 'expired'
-- ARGV[3]  this worker's id
-- ARGV[4]  seconds it ran
-- ARGV[5]  finished jobs kept (0: none), as for complete.lua
-- ARGV[6]  seconds a finished job is kept, as for complete.lua
--
-- Returns 1 when settled, 0 when the id was no longer in the pending list (requeued by a
-- recovery meanwhile: whoever holds it now decides). The finished jobs turn a generation over
-- as complete.lua says.
if redis.call('LREM', KEYS[1], -1, ARGV[1]) == 0 then return 0 end
local keep = tonumber(ARGV[5])
if keep > 0 then
  local time = redis.call('TIME')
  local attempts = tonumber(redis.call('HGET', KEYS[3], ARGV[1]) or 0)
  local age = math.floor(tonumber(ARGV[6]) * 1000)
  local ttl = redis.call('PTTL', KEYS[5])
  if ttl >= 0 and (ttl <= age or redis.call('HLEN', KEYS[5]) >= keep) then
    redis.call('UNLINK', KEYS[6])
    redis.call('RENAME', KEYS[5], KEYS[6])
    ttl = -2
  end
  redis.call('HSET', KEYS[5], ARGV[1], string.format('%s.%06d|%s|%.6f|%d|%s', time[1], tonumber(time[2]),
    ARGV[2], tonumber(ARGV[4]), attempts, ARGV[3]))
  if ttl < 0 then redis.call('PEXPIRE', KEYS[5], 2 * age) end
end
local key = redis.call('HGET', KEYS[10], ARGV[1])
if key and redis.call('HGET', KEYS[9], key) == ARGV[1] then redis.call('HDEL', KEYS[9], key) end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
redis.call('HDEL', KEYS[10], ARGV[1])
redis.call('ZREM', KEYS[7], ARGV[1])
redis.call('INCR', KEYS[8])
return 1
