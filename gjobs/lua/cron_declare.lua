-- cron_declare: publish the schedules a worker knows, renew their leases, and forget those no
-- running worker has declared for a lease.
--
-- KEYS[1]  definitions       ({prefix}:cron)           name -> JSON definition
-- KEYS[2]  payloads          ({prefix}:cron:payloads)  name -> the encoded job of each tick
-- KEYS[3]  leases            ({prefix}:cron:leases)    name -> until when it is declared
-- KEYS[4]  last ticks        ({prefix}:cron:last)      name -> the last tick handled
-- ARGV[1]  seconds a lease lasts
-- ARGV     then name1, definition1, payload1, name2, ...   (a few hundred schedules at most)
--
-- Returns {now, lasts}: Redis's time, and the last tick handled of each name given (false for
-- a schedule that never ticked), from which a starting worker finds a tick it missed. Expired
-- leases are forgotten a bounded number per call; their last ticks stay, so a schedule that
-- comes back does not fire what it missed long ago.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 100)
if #gone > 0 then
  redis.call('ZREM', KEYS[3], unpack(gone))
  redis.call('HDEL', KEYS[1], unpack(gone))
  redis.call('HDEL', KEYS[2], unpack(gone))
end
local names, definitions, payloads, leases = {}, {}, {}, {}
local until_ = now + tonumber(ARGV[1])
for i = 2, #ARGV, 3 do
  names[#names + 1] = ARGV[i]
  definitions[#definitions + 1] = ARGV[i]
  definitions[#definitions + 1] = ARGV[i + 1]
  payloads[#payloads + 1] = ARGV[i]
  payloads[#payloads + 1] = ARGV[i + 2]
  leases[#leases + 1] = until_
  leases[#leases + 1] = ARGV[i]
end
if #names == 0 then return {tostring(now), {}} end
redis.call('HSET', KEYS[1], unpack(definitions))
redis.call('HSET', KEYS[2], unpack(payloads))
redis.call('ZADD', KEYS[3], unpack(leases))
return {tostring(now), redis.call('HMGET', KEYS[4], unpack(names))}
