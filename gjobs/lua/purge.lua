-- purge: empty a queue of what waits in it, a batch at a time: ids taken from the ready list and
-- the delayed set lose their payloads and attempt counts. Running jobs are left to end.
--
-- KEYS[1]  ready list        ({prefix}:ready)
-- KEYS[2]  delayed set       ({prefix}:delayed)
-- KEYS[3]  job store hash    ({prefix}:jobs)
-- KEYS[4]  attempts hash     ({prefix}:attempts)
-- KEYS[5]  unique keys       ({prefix}:unique)
-- KEYS[6]  unique key of id  ({prefix}:unique:of)
-- ARGV[1]  ids removed per call at most (the caller loops until 0 comes back)
--
-- Returns how many jobs were removed by this call.
local limit = tonumber(ARGV[1])
local ids = redis.call('RPOP', KEYS[1], limit) or {}
if #ids < limit then
  local due = redis.call('ZPOPMIN', KEYS[2], limit - #ids)
  for i = 1, #due, 2 do ids[#ids + 1] = due[i] end
end
if #ids == 0 then return 0 end
local uniques = redis.call('HMGET', KEYS[6], unpack(ids))
for i = 1, #ids do
  if uniques[i] and redis.call('HGET', KEYS[5], uniques[i]) == ids[i] then redis.call('HDEL', KEYS[5], uniques[i]) end
end
redis.call('HDEL', KEYS[3], unpack(ids))
redis.call('HDEL', KEYS[4], unpack(ids))
redis.call('HDEL', KEYS[6], unpack(ids))
return #ids
