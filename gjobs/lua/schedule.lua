-- schedule: store job payloads and add their ids to the delayed set, scored by when they are due.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)
-- KEYS[2]  delayed set       ({prefix}:delayed)   id -> due time, epoch seconds (float)
-- ARGV[1]  wake-up channel, published to when a new job is due before every job already waiting
-- ARGV     then id1, score1, payload1, id2, score2, payload2, ...
--
-- Returns the number of ids added.
-- Publishing lets sleeping promoters (in any process) shorten their sleep to the new due time.
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local added = 0
local soonest = nil
for i = 2, #ARGV, 3 do
  local score = tonumber(ARGV[i + 1])
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  added = added + redis.call('ZADD', KEYS[2], score, ARGV[i])
  if soonest == nil or score < soonest then soonest = score end
end
if soonest ~= nil and (first[2] == nil or soonest < tonumber(first[2])) then
  redis.call('PUBLISH', ARGV[1], tostring(soonest))
end
return added
