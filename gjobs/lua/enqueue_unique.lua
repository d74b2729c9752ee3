-- enqueue_unique: store a job that holds a unique key, unless a job holding that key is still
-- delayed, ready or running: then write nothing and return that job's id.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)
-- KEYS[2]  ready list        ({prefix}:ready)
-- KEYS[3]  delayed set       ({prefix}:delayed)
-- KEYS[4]  unique keys       ({prefix}:unique)        unique key -> id of the job holding it
-- KEYS[5]  unique key of id  ({prefix}:unique:of)     id -> its unique key
-- KEYS[6]  unique deadlines  ({prefix}:unique:until)  unique key -> when it is released at the latest
-- ARGV[1]  the new job's id
-- ARGV[2]  its payload
-- ARGV[3]  '' to run now; else its due time, epoch seconds, or '+SECONDS' from now
-- ARGV[4]  the unique key
-- ARGV[5]  seconds the key is held at most (a crash cannot keep it forever)
-- ARGV[6]  wake-up channel, published to when the job is due before every other delayed job
--
-- Returns the id of the job holding the key: ARGV[1] when this one was stored.
-- The key is released by the job's end (complete, bury, finish, cancel) or by its deadline;
-- deadlines passed are handled here, a bounded number per call.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[6], '-inf', now, 'LIMIT', 0, 100)
for i = 1, #lapsed do
  local holder = redis.call('HGET', KEYS[4], lapsed[i])
  redis.call('HDEL', KEYS[4], lapsed[i])
  if holder then redis.call('HDEL', KEYS[5], holder) end
  redis.call('ZREM', KEYS[6], lapsed[i])
end
local holder = redis.call('HGET', KEYS[4], ARGV[4])
if holder then return holder end
redis.call('HSET', KEYS[4], ARGV[4], ARGV[1])
redis.call('HSET', KEYS[5], ARGV[1], ARGV[4])
redis.call('ZADD', KEYS[6], now + tonumber(ARGV[5]), ARGV[4])
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local due = ARGV[3]
if due == '' then
  redis.call('LPUSH', KEYS[2], ARGV[1])
  return ARGV[1]
end
local score = tonumber(due)
if string.sub(due, 1, 1) == '+' then score = now + tonumber(string.sub(due, 2)) end
local first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[3], score, ARGV[1])
if first[2] == nil or score < tonumber(first[2]) then
  redis.pcall('PUBLISH', ARGV[6], tostring(score))
end
return ARGV[1]
