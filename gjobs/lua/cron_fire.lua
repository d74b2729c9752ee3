-- cron_fire: claim due ticks of schedules and enqueue their jobs: each tick of each schedule is
-- handled once, whatever the number of workers calling with it.
--
-- KEYS[1]  last ticks        ({prefix}:cron:last)      name -> the last tick handled
-- KEYS[2]  last jobs         ({prefix}:cron:jobs)      name -> the id of the last job it enqueued
-- KEYS[3]  paused schedules  ({prefix}:cron:paused)
-- KEYS[4]  job store hash    ({prefix}:jobs)
-- KEYS[5]  ready list        ({prefix}:ready)
-- KEYS[6]  dead set          ({prefix}:dead)
-- ARGV     name1, tick1, grace1, overlap1, id1, payload1, name2, ...  (a hundred ticks at most):
--          tick in epoch seconds; grace in seconds; overlap '1' to run beside a previous run;
--          id and payload: the job to enqueue
--
-- Returns {now, outcomes}: Redis's time and, per tick, one of
--   fired    claimed, and its job enqueued under the id given
--   taken    handled already (by another worker, or a later tick was)
--   early    not due yet by Redis's clock: nothing is written, the caller waits
--   late     claimed, but more than grace seconds past: skipped
--   overlap  claimed, but the schedule's previous job is still queued or running: skipped
--   paused   claimed, and the schedule is paused: skipped
-- The claim is the last tick: a tick at or before it is taken. It moves forward only, so a
-- worker that slept through ticks can neither fire them twice nor fire them after a later one.
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local outcomes, pushed = {}, {}
for i = 1, #ARGV, 6 do
  local name, tick = ARGV[i], tonumber(ARGV[i + 1])
  local last = tonumber(redis.call('HGET', KEYS[1], name) or '')
  local outcome
  if last and last >= tick then
    outcome = 'taken'
  elseif now < tick then
    outcome = 'early'
  else
    redis.call('HSET', KEYS[1], name, ARGV[i + 1])
    if redis.call('SISMEMBER', KEYS[3], name) == 1 then
      outcome = 'paused'
    elseif now - tick > tonumber(ARGV[i + 2]) then
      outcome = 'late'
    else
      local previous = redis.call('HGET', KEYS[2], name)
      if ARGV[i + 3] ~= '1' and previous and redis.call('HEXISTS', KEYS[4], previous) == 1
          and not redis.call('ZSCORE', KEYS[6], previous) then
        outcome = 'overlap'
      else
        redis.call('HSET', KEYS[4], ARGV[i + 4], ARGV[i + 5])
        redis.call('HSET', KEYS[2], name, ARGV[i + 4])
        pushed[#pushed + 1] = ARGV[i + 4]
        outcome = 'fired'
      end
    end
  end
  outcomes[#outcomes + 1] = outcome
end
if #pushed > 0 then redis.call('LPUSH', KEYS[5], unpack(pushed)) end
return {tostring(now), outcomes}
