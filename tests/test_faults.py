"""Faults survived, with real redis-server and real worker processes.

The five scenarios of the reliability specification are marked ``slow`` (``.ci/run`` runs them;
``pytest -m "not slow"`` skips them locally). Each reports its figures (jobs, duplicates, lost,
time to recover) as test properties and on the terminal.
"""

import logging
import random
import re
import signal
import time

import gevent
import gevent.event
import pytest
import redis

from gjobs import Queue, Server
from gjobs.embedded import RedisProcess
from gjobs.processing_list import ProcessingList
from gjobs.worker.loop import RETRY_WAIT_CAP, Loop
from tests.fault_delegates import all_ran, runs, settled, tally
from tests.helpers import wait_for


def sleepy_jobs(count, record, low=0.005, high=0.05, seed=6):
    """``count`` jobs that sleep ``low``-``high`` seconds and count their runs in ``record``."""
    rng = random.Random(seed)
    return [{"n": n, "sleep": round(rng.uniform(low, high), 3), "record": record} for n in range(count)]


# -- quick checks -----------------------------------------------------------------------------


def test_busy_worker_is_not_presumed_dead(redis_process, real_client, prefix, spawn, report):
    """A job holds the CPU in a pure Python loop for 6 s, twelve heartbeat intervals of 0.5 s
    (the specification's example is 30 s at the default 5 s; the ratio is what matters, and the
    suite stays fast). The worker's heartbeat thread keeps beating through it, so the idle
    worker next to it never recovers the job: it runs exactly once."""
    queue = Queue(real_client, prefix)
    started, done = f"{prefix}:test:started", f"{prefix}:test:done"
    options = ["--heartbeat-interval", "0.5", "--concurrency", "1"]
    workers = [spawn("busy", redis_process.url, prefix, *options) for _ in range(2)]
    wait_for(lambda: len(queue.registry.workers()) == 2, timeout=30, message="both workers registered")
    queue.enqueue({"n": 1, "seconds": 6, "started": started, "record": done})
    wait_for(lambda: real_client.hlen(started), message="the busy job to start")
    (runner,) = [w for w in workers if w.registered_id(queue) in running_workers(queue)]
    runner_id = runner.registered_id(queue)
    oldest_beat = 0.0
    while not real_client.hlen(done):
        beats = {w["id"]: w["last_beat"] for w in queue.registry.workers()}
        assert runner_id in beats, "the busy worker was presumed dead"
        oldest_beat = max(oldest_beat, time.time() - beats[runner_id])
        gevent.sleep(0.05)  # sampling period of the heartbeat's age
    wait_for(lambda: settled(queue), message="the job to settle")
    assert runs(real_client, started) == runs(real_client, done) == {1: 1}
    assert oldest_beat < 1.0  # two intervals: the threshold past which others recover it
    assert all("stopped heartbeating" not in w.log() and "presumed dead" not in w.log() for w in workers)
    report("busy worker", job_seconds=6, heartbeat_interval=0.5, oldest_beat_seen=round(oldest_beat, 2), runs=1)


def running_workers(queue):
    return {w["id"] for w in queue.stats()["workers"] if w["pending"]}


def test_failing_loop_logs_and_retries_with_capped_backoff(monkeypatch, caplog):
    """A loop whose Redis calls fail keeps going: it logs each failure and waits 0.1 s, doubling
    up to 5 s; a success resets the wait. Time is not slept here: the waits are recorded."""
    outcomes = iter([redis.ConnectionError("cut")] * 9 + [None, redis.TimeoutError("slow"), gevent.GreenletExit()])

    def body():
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome

    waits = []
    monkeypatch.setattr("gjobs.worker.loop.gevent.sleep", waits.append)
    with pytest.raises(gevent.GreenletExit):
        Loop("fetch", "w1", body).run()
    assert waits == [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 0.1]
    warnings = [r for r in caplog.records if "fetch loop" in r.getMessage()]
    assert len(warnings) == 10 and all(r.levelno == logging.WARNING for r in warnings)


def test_ids_whose_fetch_reply_was_lost_are_requeued(client, prefix):
    """A fetch whose reply is lost (a cut connection) leaves ids in the worker's pending list
    that the worker never saw; it finds and requeues them, so they run instead of waiting there
    for as long as the worker lives."""
    ran = []
    server = Server(lambda job: ran.append(job["n"]), client, prefix=prefix, heartbeat_interval=0.5)
    queue = Queue(client, prefix)
    server.start()
    try:
        wait_for(lambda: queue.registry.workers(), message="the worker registered")
        job_id = queue.prepare({"n": 1})[0]
        client.hset(queue.keys.jobs, job_id, b'{"n":1}')
        client.lpush(queue.keys.pending(server.id), job_id)  # as a fetch whose reply never came
        wait_for(lambda: ran == [1], timeout=10, message="the orphaned job to run")
        wait_for(lambda: queue.completed_count() == 1, message="the job to complete")
    finally:
        server.stop(timeout=1)


# -- the five scenarios -----------------------------------------------------------------------


@pytest.mark.slow
def test_kill_9_under_load_loses_nothing(redis_process, real_client, prefix, spawn, report):
    """2 worker processes (concurrency 10), 2,000 jobs of 5-50 ms; one worker's process group is
    SIGKILLed three times while busy, each time replaced by a fresh one. Every job completes,
    and each killed worker's jobs are back within 2 x heartbeat_interval + 5 s of the kill."""
    count, interval, kills = 2000, 1.0, (0.2, 0.45, 0.7)
    queue = Queue(real_client, prefix)
    record = f"{prefix}:test:ran"
    options = ["--heartbeat-interval", str(interval), "--concurrency", "10"]

    def start():
        worker = spawn("record", redis_process.url, prefix, *options)
        wait_for(lambda: worker.registered_id(queue), timeout=30, message="the worker registered")
        return worker

    survivor, victim = start(), start()
    queue.enqueue_many(sleepy_jobs(count, record))
    began = time.monotonic()
    recoveries, in_flight_at_kill, done_at_kill = [], [], []

    def watch(worker_id, killed_at):
        wait_for(lambda: real_client.zscore(queue.keys.workers, worker_id) is None
                 and not real_client.exists(queue.keys.pending(worker_id)),
                 timeout=60, interval=0.02, message=f"the jobs of {worker_id} back")
        recoveries.append(time.monotonic() - killed_at)

    watchers = []
    for share in kills:
        worker_id = victim.registered_id(queue)
        wait_for(lambda share=share: real_client.hlen(record) >= share * count, timeout=60,
                 message=f"{share:.0%} of the jobs done")
        wait_for(lambda worker_id=worker_id: real_client.llen(queue.keys.pending(worker_id)), timeout=30,
                 interval=0.005, message="the victim busy")
        victim.kill()
        killed_at = time.monotonic()
        in_flight_at_kill.append(real_client.llen(queue.keys.pending(worker_id)))
        done_at_kill.append(real_client.hlen(record))
        watchers.append(gevent.spawn(watch, worker_id, killed_at))
        victim = start()
    gevent.joinall(watchers, raise_error=True)
    wait_for(lambda: all_ran(real_client, record, count), timeout=60, interval=0.1, message="every job to run")
    wait_for(lambda: settled(queue), timeout=30, message="every job settled")
    elapsed = time.monotonic() - began
    ran, duplicates, lost = tally(real_client, record, count)
    report("kill -9 under load", jobs=count, kills=len(kills), done_at_kill=done_at_kill,
           in_flight_at_kill=in_flight_at_kill,
           duplicates=duplicates, lost=lost, recover_s=[round(r, 2) for r in recoveries],
           limit_s=2 * interval + 5, total_s=round(elapsed, 1))
    assert lost == 0
    assert all(0 < n for n in in_flight_at_kill)
    assert max(recoveries) <= 2 * interval + 5
    assert survivor.alive()


@pytest.mark.slow
def test_connections_cut_every_100_ms_lose_nothing(redis_process, real_client, prefix, spawn, report):
    """``CLIENT KILL TYPE normal`` every 100 ms for 10 s while a worker runs 1,200 jobs of 20-50
    ms: every job completes, the worker logs the errors and retries with capped backoff, and
    afterwards every loop of the worker still works (it fetches, settles, promotes and beats)."""
    count, interval = 1200, 1.0
    queue = Queue(real_client, prefix)
    record = f"{prefix}:test:ran"
    queue.enqueue_many(sleepy_jobs(count, record, low=0.02))
    worker = spawn("record", redis_process.url, prefix, "--heartbeat-interval", str(interval),
                   "--concurrency", "5")
    wait_for(lambda: real_client.hlen(record) >= 50, timeout=30, message="the worker under way")
    worker_id = worker.registered_id(queue)
    killer = redis.Redis(port=redis_process.port)
    cut = 0
    done_before = real_client.hlen(record)
    cutting_until = time.monotonic() + 10
    while time.monotonic() < cutting_until:
        cut += killer.client_kill_filter(_type="normal")  # never this client itself (SKIPME yes)
        gevent.sleep(0.1)  # the pace of the cuts
    done_during = real_client.hlen(record) - done_before
    after_cuts = time.monotonic()
    wait_for(lambda: all_ran(real_client, record, count), timeout=60, interval=0.1, message="every job to run")
    recovered_in = time.monotonic() - after_cuts
    # Every loop survived: a delayed job is promoted and run, and the worker still beats.
    queue.enqueue_in({"n": count, "record": record}, 0.2)
    wait_for(lambda: all_ran(real_client, record, count + 1), timeout=20, interval=0.1,
             message="a delayed job to run")
    wait_for(lambda: settled(queue), timeout=30, message="every job settled")
    beat = real_client.zscore(queue.keys.workers, worker_id)
    assert beat is not None and time.time() - beat < 2 * interval + 1
    assert worker.alive()
    log = worker.log()
    ran, duplicates, lost = tally(real_client, record, count + 1)
    report("connections cut", jobs=count, connections_killed=cut, done_during_cuts=done_during,
           duplicates=duplicates, lost=lost, finished_after_cuts_s=round(recovered_in, 1),
           logged_retries=log.count("retrying in"), requeued_lost_replies=log.count("fetch reply was lost"))
    assert lost == 0
    assert cut > 50
    assert "Traceback" not in log  # only connection errors, each logged in one line
    waits = [float(w) for w in re.findall(r"retrying in ([0-9.]+) s", log)]
    assert waits and max(waits) <= RETRY_WAIT_CAP


@pytest.mark.slow
def test_redis_restart_with_aof_loses_nothing(prefix, spawn, report, tmp_path):
    """redis-server with ``appendfsync always`` is killed mid-run and started again on the same
    port and directory: the worker waits, reconnects, reloads its scripts and finishes."""
    count = 1000
    server = RedisProcess(extra=["--appendonly", "yes", "--appendfsync", "always"]).start()
    client = redis.Redis(port=server.port)
    try:
        queue = Queue(client, prefix)
        record = f"{prefix}:test:ran"
        queue.enqueue_many(sleepy_jobs(count, record))
        worker = spawn("record", server.url, prefix, "--heartbeat-interval", "1", "--concurrency", "10")
        wait_for(lambda: client.hlen(record) >= 0.3 * count, timeout=30, message="30% of the jobs done")
        server.stop(kill=True)
        down_at = time.monotonic()
        # Down long enough for the worker's loops to fail and back off several times.
        wait_for(lambda: "retrying in 1.6 s" in worker.log(), timeout=30, message="the worker to back off")
        server.start()
        up_at = time.monotonic()
        client.connection_pool.disconnect()
        wait_for(lambda: all_ran(client, record, count), timeout=60, interval=0.1, message="every job to run")
        finished_in = time.monotonic() - up_at
        wait_for(lambda: settled(queue), timeout=30, message="every job settled")
        fetch_sha = ProcessingList(client, queue.keys, "probe")._fetch.sha
        assert client.script_exists(fetch_sha) == [True]  # reloaded by the worker after NOSCRIPT
        assert worker.alive()
        ran, duplicates, lost = tally(client, record, count)
        report("redis restart (AOF always)", jobs=count, down_s=round(up_at - down_at, 1),
               duplicates=duplicates, lost=lost, finished_after_restart_s=round(finished_in, 1))
        assert lost == 0
    finally:
        client.close()
        server.cleanup()


@pytest.mark.slow
def test_poison_jobs_end_in_the_dead_set_without_a_hot_loop(redis_process, real_client, prefix, spawn, report):
    """An always-raising job, an undecodable payload and a missing payload, in a worker with the
    default settings: the first is retried only after a backoff of more than a second, the second
    is buried at once, the third dropped with a warning. With no backoff at all, a raising job
    stops after its ``max_attempts``."""
    queue = Queue(real_client, prefix)
    attempts_key = f"{prefix}:test:attempts"
    raising = queue.enqueue({"n": 1, "attempts": attempts_key})
    queue.ready_list.add([("undecodable", b"\x80\x81 not json")])
    real_client.lpush(queue.keys.ready, "missing")
    worker = spawn("fail", redis_process.url, prefix)
    wait_for(lambda: queue.delayed_jobs.size() == 1 and queue.dead_set.size() == 1
             and queue.stats()["missing"] == 1, timeout=30, message="the three poison jobs handled")
    first_attempt = float(real_client.lindex(attempts_key, 0))
    retry_at = real_client.zscore(queue.keys.delayed, raising)
    assert real_client.llen(attempts_key) == 1
    assert retry_at - first_attempt >= 1  # default backoff: no second attempt within a second
    (dead,) = queue.dead()
    assert (dead.id, dead.attempts) == ("undecodable", 1)
    assert "missing" in worker.log() and "WARNING" in worker.log()

    # No backoff at all, 5 attempts: it runs exactly 5 times, then it is dead.
    hot_prefix = f"{prefix}-hot"
    hot = Queue(real_client, hot_prefix)
    hot_attempts = f"{hot_prefix}:test:attempts"
    server = Server(_raise_and_count(real_client, hot_attempts), real_client, prefix=hot_prefix,
                    heartbeat_interval=0.5, max_attempts=5, backoff=lambda attempt: 0)
    server.start()
    try:
        hot_id = hot.enqueue({"n": 2})
        wait_for(lambda: hot.dead_set.size() == 1, timeout=30, message="the raising job dead")
    finally:
        server.stop(timeout=1)
    times = [float(t) for t in real_client.lrange(hot_attempts, 0, -1)]
    assert len(times) == 5 and hot.dead()[0].attempts == 5 and hot.dead()[0].id == hot_id
    assert settled_but_dead(hot)
    report("poison jobs", default_backoff_first_retry_after_s=round(retry_at - first_attempt, 1),
           undecodable="dead after 1 attempt", missing="dropped, counted, warned",
           no_backoff_attempts=len(times), no_backoff_span_s=round(times[-1] - times[0], 3))


def _raise_and_count(client, key):
    def delegate(job):
        client.rpush(key, repr(time.time()))
        raise RuntimeError("poison")

    return delegate


def settled_but_dead(queue):
    stats = queue.stats()
    return (stats["ready"], stats["delayed"], stats["in_progress"], stats["dead"]) == (0, 0, 0, 1)


@pytest.mark.slow
def test_sigterm_during_long_jobs_hands_them_to_another_worker(redis_process, real_client, prefix, spawn, report):
    """``gjobs-worker`` runs 10 jobs of 10 s; SIGTERM with ``--shutdown-timeout 1``: it exits
    within 2 s, and another worker runs all 10 to completion."""
    count = 10
    queue = Queue(real_client, prefix)
    started, done = f"{prefix}:test:started", f"{prefix}:test:done"
    for n in range(count):
        queue.enqueue({"n": n, "sleep": 10, "started": started, "record": done})
    options = ["--concurrency", "10", "--shutdown-timeout", "1", "--heartbeat-interval", "1"]
    first = spawn("record", redis_process.url, prefix, *options)
    wait_for(lambda: real_client.hlen(started) == count, timeout=30, message="all jobs running")
    first_id = first.registered_id(queue)
    second = spawn("record", redis_process.url, prefix, *options)
    wait_for(lambda: len(queue.registry.workers()) == 2, timeout=30, message="the second worker registered")
    signalled = time.monotonic()
    first.signal(signal.SIGTERM)
    assert first.wait(10) == 0, first.log()
    exit_s = time.monotonic() - signalled
    wait_for(lambda: all_ran(real_client, done, count), timeout=30, interval=0.1,
             message="the other worker to run them")
    handed_over_s = time.monotonic() - signalled
    wait_for(lambda: settled(queue), timeout=30, message="every job settled")
    assert second.alive()
    assert set(runs(real_client, started).values()) == {2}  # one cut short, one whole
    ran, duplicates, lost = tally(real_client, done, count)
    assert (duplicates, lost) == (0, 0)
    assert real_client.zscore(queue.keys.workers, first_id) is None
    report("SIGTERM during long jobs", jobs=count, exit_s=round(exit_s, 2), duplicates=duplicates, lost=lost,
           all_done_after_s=round(handed_over_s, 1))
    assert exit_s < 2
