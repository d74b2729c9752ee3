-- schedule: store job payloads and add their ids to the delayed set, scored by when they are due.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)
-- KEYS[2]  delayed set       ({prefix}:delayed)   id -> due time, epoch seconds (float)
-- ARGV[1]  wake-up channel, published to when a new job is due before every job already waiting
-- ARGV     then id1, due1, payload1, id2, due2, payload2, ...; a due is epoch seconds, or
--          '+SECONDS' for that long after now by Redis's clock (enqueue_in)
--
-- Returns the number of ids added.
-- Publishing lets sleeping promoters (in any process) shorten their sleep to the new due time;
-- it is a courtesy, so a user whose ACL refuses the channel still has the jobs stored (pcall),
-- and a call that raised has written nothing.
local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
local added = 0
local soonest = nil
local now = nil
for i = 2, #ARGV, 3 do
  local due = ARGV[i + 1]
  local score
  if string.sub(due, 1, 1) == '+' then
    if now == nil then
      local time = redis.call('TIME')
      now = tonumber(time[1]) + tonumber(time[2]) / 1000000
    end
    score = now + tonumber(string.sub(due, 2))
  else
    score = tonumber(due)
  end
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
  added = added + redis.call('ZADD', KEYS[2], score, ARGV[i])
  if soonest == nil or score < soonest then soonest = score end
end
if soonest ~= nil and (first[2] == nil or soonest < tonumber(first[2])) then
  redis.pcall('PUBLISH', ARGV[1], tostring(soonest))
end
return added
