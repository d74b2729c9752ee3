"""Periodic jobs: ticks, bad schedules, the claim of a tick in Redis, and a worker firing them.

Tick rules are tested by computing ticks from chosen moments (time moved, not waited for); the
claim script on real Redis and on fakeredis; the promises about processes (many workers, kill -9,
a worker whose clock is off) in test_periodic_processes.py.
"""

import datetime as dt
import json
import logging
from zoneinfo import ZoneInfo

import gevent
import gevent.event
import pytest

import gjobs
from gjobs.cron_table import CronTable, UnknownSchedule
from gjobs.ids import tick_id, tick_of
from gjobs.queue import Queue
from gjobs.schedule import Schedule, ScheduleRegistry, periodic, schedules
from gjobs.tasks import Task

from .helpers import wait_for

BERLIN = "Europe/Berlin"


def at(*fields, tz="UTC"):
    """Epoch seconds of a wall-clock time in ``tz``."""
    return dt.datetime(*fields, tzinfo=ZoneInfo(tz)).timestamp()


def ticks_between(schedule, start, end):
    found, moment = [], start
    while True:
        moment = schedule.next_after(moment)
        if moment >= end:
            return found
        found.append(moment)


# -- ticks ----------------------------------------------------------------------------------------


def test_a_cron_schedule_ticks_at_the_times_it_names():
    nightly = Schedule("nightly", {}, cron="0 3 * * *")
    assert nightly.next_after(at(2026, 5, 1, 12, 0)) == at(2026, 5, 2, 3, 0)
    assert nightly.latest(at(2026, 5, 1, 12, 0)) == at(2026, 5, 1, 3, 0)


def test_a_tick_is_strictly_after_the_moment_and_latest_includes_it():
    minutely = Schedule("m", {}, cron="* * * * *")
    noon = at(2026, 5, 1, 12, 0)
    assert (minutely.next_after(noon), minutely.latest(noon), minutely.latest(noon + 59.9)) == (noon + 60, noon, noon)


def test_six_fields_put_seconds_first():
    assert Schedule("s", {}, cron="*/15 * * * * *").next_after(at(2026, 5, 1, 12, 0)) == at(2026, 5, 1, 12, 0, 15)


def test_every_ticks_on_multiples_of_its_interval_whoever_computes_them():
    poll = Schedule("poll", {}, every=30)
    assert poll.next_after(1_000_000_007.5) == 1_000_000_020 and poll.latest(1_000_000_007.5) == 999_999_990


def test_every_takes_a_timedelta():
    assert Schedule("d", {}, every=dt.timedelta(minutes=5)).every == 300


def test_a_time_zone_sets_the_time_of_day():
    nightly = Schedule("nightly", {}, cron="0 3 * * *", tz=BERLIN)
    assert nightly.next_after(at(2026, 7, 1, 12, 0)) == at(2026, 7, 2, 3, 0, tz=BERLIN) == at(2026, 7, 2, 1, 0)


def test_a_time_skipped_by_spring_forward_fires_once_that_day():
    early = Schedule("early", {}, cron="30 2 * * *", tz=BERLIN)  # 2026-03-29: 02:00 -> 03:00
    fired = ticks_between(early, at(2026, 3, 29, 0, 0, tz=BERLIN), at(2026, 3, 30, 0, 0, tz=BERLIN))
    assert fired == [at(2026, 3, 29, 3, 0, tz=BERLIN)]


def test_a_time_repeated_by_fall_back_fires_once_that_day():
    early = Schedule("early", {}, cron="30 2 * * *", tz=BERLIN)  # 2026-10-25: 03:00 -> 02:00
    fired = ticks_between(early, at(2026, 10, 25, 0, 0, tz=BERLIN), at(2026, 10, 26, 0, 0, tz=BERLIN))
    assert len(fired) == 1


# -- bad schedules ----------------------------------------------------------------------------------


@pytest.mark.parametrize("options, says", [
    ({"cron": "61 * * * *"}, "invalid cron expression '61 * * * *'"),
    ({"cron": "* * *"}, "has 3 fields"),
    ({"cron": "0 3 * * *", "tz": "Mars/Olympus"}, "unknown time zone 'Mars/Olympus'"),
    ({"every": 0}, "every must be a positive number of seconds, not 0"),
    ({"every": -5}, "every must be a positive number"),
    ({"every": 5, "tz": BERLIN}, "tz applies to cron expressions"),
    ({}, "give a cron expression or every="),
    ({"cron": "0 3 * * *", "every": 5}, "give a cron expression or every="),
    ({"every": 5, "grace": -1}, "grace must be"),
])
def test_a_bad_schedule_fails_at_declaration_naming_it(options, says):
    with pytest.raises(ValueError) as raised:
        Schedule("nightly-report", {}, **options)
    assert "'nightly-report'" in str(raised.value) and says in str(raised.value)


def test_two_schedules_with_one_name_are_refused():
    registry = ScheduleRegistry()
    periodic(every=60, name="sync", job={"kind": "sync"}, registry=registry)
    with pytest.raises(ValueError, match="two schedules named 'sync'"):
        periodic(every=30, name="sync", job={"kind": "sync"}, registry=registry)


def test_declaring_the_same_schedule_again_is_harmless():
    registry = ScheduleRegistry()
    for _ in range(2):
        periodic(every=60, name="sync", job={"kind": "sync"}, registry=registry)
    assert len(registry) == 1


def test_a_decorated_function_becomes_a_task_with_its_schedule():
    registry = ScheduleRegistry()

    @periodic("0 3 * * *", tz=BERLIN, name="tests:report", args=(7,), max_attempts=2, registry=registry)
    def report(days):
        return days

    [schedule] = registry.all()
    assert isinstance(report, Task) and report(3) == 3
    assert (schedule.name, schedule.cron, schedule.tz) == ("tests:report", "0 3 * * *", BERLIN)
    assert schedule.job == {"task": "tests:report", "args": [7], "kwargs": {}, "max_attempts": 2}


@pytest.mark.parametrize("option", ["expires", "unique_for"])
def test_a_periodic_task_takes_no_option_that_a_tick_cannot_carry(option):
    with pytest.raises(TypeError, match=option):
        periodic(every=60, registry=ScheduleRegistry(), **{option: 10})


def test_a_schedule_of_a_plain_job_needs_a_name_and_a_dict():
    with pytest.raises(ValueError, match="needs a name"):
        periodic(every=60, job={"x": 1}, registry=ScheduleRegistry())
    with pytest.raises(TypeError, match="must be a dict"):
        periodic(every=60, name="x", job=[1], registry=ScheduleRegistry())


def test_queue_periodic_sends_the_jobs_to_that_queue(fake_client):
    queue = Queue(fake_client, "reports")
    schedule = queue.periodic(every=60, name="tests:queue-periodic", job={"x": 1})
    try:
        assert schedule.queue == "reports" and schedule in schedules.all()
    finally:
        schedules.remove(schedule.name)


# -- the claim of a tick ----------------------------------------------------------------------------


@pytest.fixture
def table(client, prefix):
    return CronTable(client, Queue(client, prefix).keys)


def redis_now(client):
    seconds, micros = client.time()
    return seconds + micros / 1e6


def fire(table, tick, name="s", grace=60.0, overlap=False, payload=b'{"n": 1}'):
    return table.fire([(name, tick, grace, overlap, tick_id(name, tick), payload)])[1][0]


def test_a_due_tick_enqueues_its_job_once(client, table, prefix):
    tick = float(int(redis_now(client)) - 1)
    assert [fire(table, tick) for _ in range(3)] == ["fired", "taken", "taken"]
    queue = Queue(client, prefix)
    assert queue.ready_list.size() == 1 and queue.job(tick_id("s", tick)).state == "ready"


def test_many_workers_firing_one_tick_at_once_enqueue_one_job(client, table, prefix):
    tick = float(int(redis_now(client)) - 1)
    greenlets = [gevent.spawn(fire, table, tick) for _ in range(20)]
    gevent.joinall(greenlets, raise_error=True)
    assert sorted(g.value for g in greenlets) == ["fired"] + ["taken"] * 19
    assert Queue(client, prefix).ready_list.size() == 1


def test_a_tick_not_due_by_redis_clock_writes_nothing(client, table, prefix):
    assert fire(table, redis_now(client) + 30) == "early"
    assert Queue(client, prefix).ready_list.size() == 0
    assert client.hget(table.keys.cron_last, "s") is None


def test_a_tick_later_than_its_grace_is_skipped(client, table, prefix):
    assert fire(table, redis_now(client) - 120, grace=60) == "late"
    assert Queue(client, prefix).ready_list.size() == 0


def test_an_earlier_tick_after_a_later_one_is_taken(client, table):
    now = int(redis_now(client))
    assert fire(table, now - 1.0) == "fired"
    assert fire(table, now - 2.0) == "taken"


def test_a_tick_skips_while_the_previous_job_is_still_queued(client, table):
    now = int(redis_now(client))
    assert (fire(table, now - 2.0), fire(table, now - 1.0)) == ("fired", "overlap")


def test_overlap_true_fires_beside_a_previous_job(client, table, prefix):
    now = int(redis_now(client))
    assert (fire(table, now - 2.0, overlap=True), fire(table, now - 1.0, overlap=True)) == ("fired", "fired")
    assert Queue(client, prefix).ready_list.size() == 2


def test_a_dead_previous_job_does_not_keep_the_next_tick_out(client, table):
    now = int(redis_now(client))
    fire(table, now - 2.0)
    client.zadd(table.keys.dead, {tick_id("s", now - 2.0): now})
    assert fire(table, now - 1.0) == "fired"


def test_a_paused_schedule_skips_its_ticks_until_resumed(client, table):
    now = int(redis_now(client))
    table.declare([("s", json.dumps(Schedule("s", {}, every=1).definition()), b"{}")], 60)
    table.pause("s")
    assert fire(table, now - 2.0) == "paused"
    table.resume("s")
    assert fire(table, now - 1.0) == "fired"


def test_run_enqueues_a_declared_schedules_job_now(client, table, prefix):
    table.declare([("s", json.dumps(Schedule("s", {}, every=3600).definition()), b'{"n": 7}')], 60)
    job_id = table.run("s")
    assert Queue(client, prefix).job(job_id).job == {"n": 7}


def test_steering_an_undeclared_schedule_is_a_clear_error(table):
    for action in (table.run, table.pause, table.resume):
        with pytest.raises(UnknownSchedule, match="no schedule 'nope'"):
            action("nope")


def test_list_shows_each_schedule_with_its_next_and_last_tick(client, table):
    now = int(redis_now(client))
    table.declare([("s", json.dumps(Schedule("s", {}, every=10).definition()), b"{}")], 60)
    fire(table, now - 1.0)
    [info] = table.list()
    assert (info.name, info.every, info.last_at, info.last_state, info.paused) == ("s", 10.0, now - 1.0, "ready", False)
    assert now < info.next_at <= now + 10 and info.declared_until > now


def test_a_schedule_no_worker_declares_leaves_the_list_when_its_lease_ends(client, table):
    table.declare([("s", json.dumps(Schedule("s", {}, every=10).definition()), b"{}")], 0.05)
    gevent.sleep(0.1)  # the lease runs out on Redis's clock; the next declaration forgets it
    table.declare([], 60)
    assert table.list() == [] and Queue(client, table.keys.prefix).stats()["schedules"] == 0


def test_a_tick_job_reads_as_enqueued_at_its_tick():
    assert tick_of(tick_id("nightly", 1_800_000_000.0)) == 1_800_000_000.0
    assert tick_id("nightly", 1.0) != tick_id("hourly", 1.0)


# -- a worker firing them -------------------------------------------------------------------------


def test_a_worker_fires_an_every_second_schedule_each_second(make_server, client, prefix):
    seen = []
    schedule = Schedule("tests:each-second", {"n": 1}, every=1)
    make_server(lambda job: seen.append(gjobs.current_job().id), schedules=[schedule]).start()
    wait_for(lambda: len(seen) >= 3, timeout=6)
    ticks = [tick_of(job_id) for job_id in seen]
    assert ticks == sorted(set(ticks)) and all(b - a == 1 for a, b in zip(ticks, ticks[1:]))
    assert Queue(client, prefix).stats()["schedules"] == 1


def test_a_tick_missed_while_no_worker_ran_fires_once_at_start(make_server, client, prefix):
    hourly = Schedule("tests:hourly", {"n": 1}, every=3600, grace=3600 * 24)
    latest = hourly.latest(redis_now(client))
    client.hset(Queue(client, prefix).keys.cron_last, hourly.name, repr(latest - 5 * 3600))  # 5 ticks missed
    seen = []
    make_server(lambda job: seen.append(gjobs.current_job().id), schedules=[hourly]).start()
    wait_for(lambda: seen)
    gevent.sleep(0.3)  # a burst of the other missed ticks would have run by now
    assert [tick_of(job_id) for job_id in seen] == [latest]


def test_a_missed_tick_past_its_grace_is_skipped_and_logged(make_server, client, prefix, caplog):
    hourly = Schedule("tests:hourly", {"n": 1}, every=3600, grace=1)
    latest = hourly.latest(redis_now(client))
    if redis_now(client) - latest < 2:
        latest -= 3600  # just past the hour: the latest tick is still within grace
    keys = Queue(client, prefix).keys
    client.hset(keys.cron_last, hourly.name, repr(latest - 3600))
    make_server(lambda job: None, schedules=[hourly]).start()
    wait_for(lambda: "missed" in caplog.text, message="the skip to be logged")
    assert Queue(client, prefix).ready_list.size() == 0 and float(client.hget(keys.cron_last, hourly.name)) >= latest


def test_a_run_still_going_makes_the_next_tick_skip(make_server, client, prefix, caplog):
    caplog.set_level(logging.INFO, logger="gjobs")
    gate = gevent.event.Event()
    runs = []
    schedule = Schedule("tests:slow", {"n": 1}, every=1)
    make_server(lambda job: (runs.append(1), gate.wait()), schedules=[schedule]).start()
    wait_for(lambda: "previous job is still queued or running" in caplog.text, timeout=5)
    assert runs == [1]
    gate.set()


def test_a_run_of_a_schedule_no_worker_declares_any_more_is_refused(client, table):
    table.declare([("s", json.dumps(Schedule("s", {}, every=10).definition()), b"{}")], 0.05)
    gevent.sleep(0.1)  # the lease runs out on Redis's clock
    for action in (table.run, table.pause):
        with pytest.raises(UnknownSchedule):
            action("s")


class FailingOnce:
    """A cron table whose first fire fails as a lost connection would."""

    def __init__(self):
        self.calls = []

    def fire(self, ticks):
        self.calls.append([name for name, *_ in ticks])
        if len(self.calls) == 1:
            raise ConnectionError("connection lost")
        return 0.0, ["fired"] * len(ticks)


def test_ticks_not_fired_because_of_an_error_are_fired_by_the_next_step(fake_client):
    from gjobs.worker.scheduler import Scheduler

    scheduler = Scheduler(fake_client, gjobs.JSONCoder(), [Schedule("a", {}, every=60, queue="qa"),
                                                         Schedule("b", {}, every=60, queue="qb")], "qa", "w1")
    table = FailingOnce()  # both queues' calls: the first of them fails
    scheduler.tables = {"qa": table, "qb": table}
    for prefix, group in scheduler.entries.items():
        for schedule, _, _ in group.values():
            scheduler._push(0.0, prefix, schedule)
    with pytest.raises(ConnectionError):
        scheduler.fire_due()
    scheduler.fire_due()
    assert len(table.calls) == 3 and sorted(name for calls in table.calls[1:] for name in calls) == ["a", "b"]


def test_a_schedules_job_carries_no_header_from_the_producers_middleware(fake_client):
    from gjobs import middleware
    from gjobs.worker.scheduler import Scheduler

    class Stamp(middleware.Middleware):
        def before_enqueue(self, job, queue):
            job["headers"] = {"made": "now"}

    before = list(middleware.installed)
    middleware.use(Stamp())
    try:
        scheduler = Scheduler(fake_client, gjobs.JSONCoder(), [Schedule("s", {"n": 1}, every=60)], "q", "w1")
    finally:
        middleware.installed[:] = before
    assert json.loads(scheduler.entries["q"]["s"][2]) == {"n": 1}
