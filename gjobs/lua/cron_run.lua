-- cron_run: enqueue a schedule's job now, once, outside its ticks (``gjobs cron run NAME``).
--
-- KEYS[1]  payloads          ({prefix}:cron:payloads)  name -> the encoded job of each tick
-- KEYS[2]  last jobs         ({prefix}:cron:jobs)      name -> the id of the last job it enqueued
-- KEYS[3]  job store hash    ({prefix}:jobs)
-- KEYS[4]  ready list        ({prefix}:ready)
-- KEYS[5]  leases            ({prefix}:cron:leases)    name -> until when it is declared
-- ARGV[1]  the schedule's name
-- ARGV[2]  the new job's id
--
-- Returns 1 when the job was enqueued, 0 when no running worker declares such a schedule.
local time = redis.call('TIME')
local declared = tonumber(redis.call('ZSCORE', KEYS[5], ARGV[1]) or '0')
if declared < tonumber(time[1]) + tonumber(time[2]) / 1000000 then return 0 end
local payload = redis.call('HGET', KEYS[1], ARGV[1])
if not payload then return 0 end
redis.call('HSET', KEYS[3], ARGV[2], payload)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('LPUSH', KEYS[4], ARGV[2])
return 1
