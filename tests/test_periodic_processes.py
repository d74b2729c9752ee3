"""Periodic jobs across real worker processes: each tick fires once however many workers run,
when one is killed with kill -9, and when their clocks are off.

The workers import ``tests.periodic_jobs`` (a schedule "every-second") and run its jobs with
``record_tick``, which notes each job's id; a tick's job id holds the tick (``tick_of``).
"""

import pytest
import redis

from gjobs.ids import tick_of
from gjobs.keys import Keys

from .helpers import wait_for

OPTIONS = ("--import", "tests.periodic_jobs", "--heartbeat-interval", "0.5")


def redis_now(client):
    seconds, micros = client.time()
    return seconds + micros / 1e6


def ticks_run(client, prefix):
    return [tick_of(job_id.decode()) for job_id in client.lrange(f"{prefix}:ticks", 0, -1)]


def fired_in(client, prefix, start, seconds):
    """The ticks run in ``[start, start + seconds)``, once each, once ``seconds`` have passed."""
    wait_for(lambda: redis_now(client) >= start + seconds + 1.5, timeout=seconds + 10, message="the window to pass")
    return sorted(tick for tick in set(ticks_run(client, prefix)) if start <= tick < start + seconds)


@pytest.fixture
def client(redis_process):
    client = redis.Redis(port=redis_process.port, host="127.0.0.1")
    yield client
    client.close()


def first_tick(client, prefix):
    return wait_for(lambda: min(ticks_run(client, prefix), default=None), timeout=15, message="a first tick")


@pytest.mark.slow
def test_three_workers_fire_a_one_second_schedule_once_a_second(spawn, redis_process, client, prefix):
    for _ in range(3):
        spawn("record_tick", redis_process.url, prefix, *OPTIONS)
    start = first_tick(client, prefix) + 1
    fired = fired_in(client, prefix, start, 20)
    assert fired == [start + n for n in range(20)]
    runs = ticks_run(client, prefix)
    assert len(runs) == len(set(runs)), "a tick ran twice"


@pytest.mark.slow
def test_a_worker_killed_half_way_leaves_every_tick_fired_once(spawn, redis_process, client, prefix):
    workers = [spawn("record_tick", redis_process.url, prefix, *OPTIONS) for _ in range(3)]
    start = first_tick(client, prefix) + 1
    wait_for(lambda: redis_now(client) >= start + 10, timeout=20)
    workers[0].kill()
    assert fired_in(client, prefix, start, 20) == [start + n for n in range(20)]


@pytest.mark.slow
def test_workers_whose_clocks_are_off_by_a_minute_fire_neither_early_nor_twice(spawn, redis_process, client, prefix):
    for shift in (60.0, -60.0):
        spawn("record_tick", redis_process.url, prefix, *OPTIONS, clock_shift=shift)
    start = first_tick(client, prefix) + 1
    assert fired_in(client, prefix, start, 6) == [start + n for n in range(6)]
    last = float(client.hget(Keys(prefix).cron_last, "every-second"))
    assert last <= redis_now(client), "a tick was claimed before Redis's clock reached it"
    runs = ticks_run(client, prefix)
    assert len(runs) == len(set(runs))
