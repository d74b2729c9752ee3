-- enqueue_batch: store the jobs of callers who enqueued at the same moment, each made ready to
-- run or scheduled for later; a job whose due time is not a number is refused alone.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)      id -> encoded job
-- KEYS[2]  ready list        ({prefix}:ready)     ids, pushed on the left, taken from the right
-- KEYS[3]  delayed set       ({prefix}:delayed)   id -> due time, epoch seconds (float)
-- ARGV[1]  wake-up channel, published to when a new job is due before every job already waiting
-- ARGV[2]  the jobs' ids, separated by single spaces (ids made by gjobs have none)
-- ARGV[3]  their due times in the same order, separated by single spaces, '-' for a job that
--          runs now; or '' when all of them run now. A due is epoch seconds, or '+SECONDS'
--          for that long after now by Redis's clock
-- ARGV     from ARGV[4] on: the payloads, one per id, in the same order (at most a few
--          thousand jobs per call)
--
-- Returns the positions (1 for the first job, 2 for the second, ...) of the jobs refused, of
-- which nothing was written; an empty list when every job was stored.
-- Atomic so that an id is never ready or delayed without its payload, nor a payload stored
-- without its id. Ready jobs are pushed in the order given, so they run first in, first out.
-- Everything is checked before anything is written: a refused job fails its own caller only,
-- and keys of the wrong type or lists that do not match fail the whole call with nothing
-- written. Ids and dues come as one argument each because every argument costs the producer
-- more to send than the few bytes it holds. Publishing is a courtesy (see schedule.lua): a
-- user whose ACL refuses the channel still has the jobs stored.
local ids = {}
for id in string.gmatch(ARGV[2], '[^ ]+') do ids[#ids + 1] = id end
local dues = {}
if ARGV[3] ~= '' then
  for due in string.gmatch(ARGV[3], '[^ ]+') do dues[#dues + 1] = due end
end
if #ARGV - 3 ~= #ids or (ARGV[3] ~= '' and #dues ~= #ids) then
  return redis.error_reply('ERR enqueue_batch: the ids, dues and payloads given do not match')
end
local fields, ready, scored, refused = {}, {}, {}, {}
local soonest = nil
local now = nil
for i, id in ipairs(ids) do
  local due = dues[i] or '-'
  local stored = true
  if due == '-' then
    ready[#ready + 1] = id
  else
    local score = nil
    if string.sub(due, 1, 1) == '+' then
      if now == nil then
        local time = redis.call('TIME')
        now = tonumber(time[1]) + tonumber(time[2]) / 1000000
      end
      local delay = tonumber(string.sub(due, 2))
      if delay ~= nil then score = now + delay end
    else
      score = tonumber(due)
    end
    if score == nil or score ~= score then
      refused[#refused + 1] = i
      stored = false
    else
      scored[#scored + 1] = score
      scored[#scored + 1] = id
      if soonest == nil or score < soonest then soonest = score end
    end
  end
  if stored then
    fields[#fields + 1] = id
    fields[#fields + 1] = ARGV[3 + i]
  end
end
-- The hash is written first: of the wrong type, it fails the call with nothing written. The
-- other keys this call writes are read before it, and a key of the wrong type fails there.
if #ready > 0 then
  redis.call('LLEN', KEYS[2])
end
local first = nil
if #scored > 0 then
  first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
end
if #fields > 0 then
  redis.call('HSET', KEYS[1], unpack(fields))
end
if #scored > 0 then
  redis.call('ZADD', KEYS[3], unpack(scored))
end
if #ready > 0 then
  redis.call('LPUSH', KEYS[2], unpack(ready))
end
if soonest ~= nil and (first[2] == nil or soonest < tonumber(first[2])) then
  redis.pcall('PUBLISH', ARGV[1], tostring(soonest))
end
return refused
