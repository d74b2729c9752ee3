-- enqueue_batch: store the jobs of callers who enqueued at the same moment, each made ready to
-- run or scheduled for later; a job whose due time is not a number is refused alone.
--
-- KEYS[1]  job store hash    ({prefix}:jobs)      id -> encoded job
-- KEYS[2]  ready list        ({prefix}:ready)     ids, pushed on the left, taken from the right
-- KEYS[3]  delayed set       ({prefix}:delayed)   id -> due time, epoch seconds (float)
-- ARGV[1]  wake-up channel, published to when a new job is due before every job already waiting
-- ARGV     then id1, due1, payload1, id2, due2, payload2, ... (at most a few thousand triples);
--          a due is '' to run now, epoch seconds, or '+SECONDS' for that long after now by
--          Redis's clock
--
-- Returns the positions (1 for the first job, 2 for the second, ...) of the jobs refused, of
-- which nothing was written; an empty list when every job was stored.
-- Atomic so that an id is never ready or delayed without its payload, nor a payload stored
-- without its id. Ready jobs are pushed in the order given, so they run first in, first out.
-- A refused job is checked before anything of it is written, so it fails its own caller only;
-- a key of the wrong type fails the whole call before anything at all is written, so no job
-- is ever left half stored. Publishing is a courtesy (see schedule.lua): a user whose ACL
-- refuses the channel still has the jobs stored.
local found = {redis.call('TYPE', KEYS[1])['ok'], redis.call('TYPE', KEYS[2])['ok'],
               redis.call('TYPE', KEYS[3])['ok']}
for i, kind in ipairs({'hash', 'list', 'zset'}) do
  if found[i] ~= kind and found[i] ~= 'none' then
    return redis.error_reply(string.format('WRONGTYPE %s holds a %s, not a %s', KEYS[i], found[i], kind))
  end
end
local ready = {}
local refused = {}
local first = nil
local soonest = nil
local now = nil
local position = 0
for i = 2, #ARGV, 3 do
  position = position + 1
  local due = ARGV[i + 1]
  if due == '' then
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
    ready[#ready + 1] = ARGV[i]
  else
    local score
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
      refused[#refused + 1] = position
    else
      if first == nil then first = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES') end
      redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 2])
      redis.call('ZADD', KEYS[3], score, ARGV[i])
      if soonest == nil or score < soonest then soonest = score end
    end
  end
end
if #ready > 0 then
  redis.call('LPUSH', KEYS[2], unpack(ready))
end
if soonest ~= nil and (first[2] == nil or soonest < tonumber(first[2])) then
  redis.pcall('PUBLISH', ARGV[1], tostring(soonest))
end
return refused
