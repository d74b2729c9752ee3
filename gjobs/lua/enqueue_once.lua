-- enqueue_once: store a job under the caller's own id, at most once: enqueueing an id that was
-- enqueued within the last ARGV[4] seconds writes nothing. It makes retrying an enqueue whose
-- reply was lost (a timeout after the write) safe.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)
-- KEYS[2]  ready list        ({prefix}:ready)
-- KEYS[3]  delayed set       ({prefix}:delayed)
-- KEYS[4]  ids taken         ({prefix}:ids)        caller id -> when it was enqueued (Redis's clock)
-- ARGV[1]  the id
-- ARGV[2]  the payload
-- ARGV[3]  '' to run now; else its due time, epoch seconds, or '+SECONDS' from now
-- ARGV[4]  seconds an id is remembered
-- ARGV[5]  wake-up channel, published to when the job is due before every other delayed job
--
-- Returns 1 when the job was stored, 0 when the id was taken (then nothing was written).
-- Forgetting old ids is bounded: at most 100 expired ids are dropped per call.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local oldest = string.format('(%.6f', now - tonumber(ARGV[4]))  -- '(': older than, strictly
local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', oldest, 'LIMIT', 0, 100)
if #expired > 0 then redis.call('ZREM', KEYS[4], unpack(expired)) end
if redis.call('ZSCORE', KEYS[4], ARGV[1]) or redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  return 0
end
redis.call('ZADD', KEYS[4], now, ARGV[1])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local due = ARGV[3]
if due == '' then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return 1
end
local score = tonumber(due)
if string.sub(due, 1, 1) == '+' then score = now + tonumber(string.sub(due, 2)) end
local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[3], score, ARGV[1])
if first[2] == nil or score < tonumber(first[2]) then
  redis.pcall('PUBLISH', ARGV[5], tostring(score))
end
return 1
