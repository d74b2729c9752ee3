-- promote: move due ids from the delayed set to the ready list, at most ARGV[2] per call.
--
-- KEYS[1]  delayed set       ({prefix}:delayed)
-- KEYS[2]  ready list        ({prefix}:ready)
-- ARGV[1]  now, epoch seconds (float), or '' for Redis's own clock (TIME): ids scored at or
--          before it are due
-- ARGV[2]  limit: the most ids moved by this call (the caller loops until fewer come back)
--
-- Returns {moved, next, now} where next is the score of the earliest id still waiting, as a
-- string, or false when the set is empty, and now the time due was judged at.
-- Bounded so that any backlog is moved in many short calls instead of one that fails to unpack.
-- Due is judged by Redis's clock, so that a worker whose clock is ahead never runs a job early.
local now = ARGV[1]
if now == '' then
  local time = redis.call('TIME')
  now = tostring(tonumber(time[1]) + tonumber(time[2]) / 1000000)
end
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
if #due > 0 then
  redis.call('ZREM', KEYS[1], unpack(due))
  redis.call('LPUSH', KEYS[2], unpack(due))
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {#due, first[2] or false, now}
