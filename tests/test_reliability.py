"""Nothing lost, nothing doubled, round two: one clock (Redis's), outages that every worker
suffers together, a job that exits, a worker that takes back its own job, bad reserved keys,
caller ids that make an enqueue safe to retry, and honest time limits."""

import logging
import signal
import time

import gevent
import pytest

from gjobs import Buffer, Queue
from gjobs.embedded import RedisProcess
from tests.fault_delegates import all_ran, runs, settled, tally
from tests.helpers import Gated, wait_for

# -- one clock: Redis's --------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("shift", [-30.0, 3600.0], ids=["30s-behind", "1h-ahead"])
def test_a_worker_whose_clock_is_off_makes_no_job_run_twice(redis_process, real_client, prefix, spawn, report, shift):
    """Two workers, one with its clock off: each judges the other's heartbeat by Redis's clock,
    so neither presumes the other dead and no job runs twice."""
    record = f"{prefix}:test:ran"
    count = 24
    Queue(real_client, prefix).enqueue_many([{"n": n, "sleep": 3, "record": record} for n in range(count)])
    options = ("--heartbeat-interval", "1", "--concurrency", "6")
    workers = [spawn("record", redis_process.url, prefix, *options),
               spawn("record", redis_process.url, prefix, *options, clock_shift=shift)]
    wait_for(lambda: all_ran(real_client, record, count), timeout=60, message="every job to run")
    wait_for(lambda: settled(Queue(real_client, prefix)), timeout=20, message="every job settled")
    ran, duplicates, lost = tally(real_client, record, count)
    report("clock off", shift_s=shift, jobs=count, duplicates=duplicates, lost=lost)
    assert (duplicates, lost) == (0, 0)
    assert not any("stopped heartbeating" in w.log() or "presumed dead" in w.log() for w in workers)


@pytest.mark.slow
def test_a_worker_whose_clock_is_ahead_runs_no_delayed_job_early(redis_process, real_client, prefix, spawn):
    """A job due in 4 s (Redis's clock) runs no earlier on a worker one hour ahead."""
    record, at = f"{prefix}:test:ran", f"{prefix}:test:at"
    spawn("ran_at", redis_process.url, prefix, "--heartbeat-interval", "1", clock_shift=3600.0)
    queue = Queue(real_client, prefix)
    wait_for(lambda: queue.registry.workers(), message="the worker to start")
    enqueued = time.time()
    queue.enqueue_in({"n": 1, "record": record, "at": at}, 4)
    wait_for(lambda: runs(real_client, record) == {1: 1}, timeout=15, message="the delayed job to run")
    started = float(real_client.lindex(at, 0))
    assert started - enqueued >= 3.9


def test_enqueue_in_counts_the_delay_from_redis_now(real_client, prefix, monkeypatch):
    """A producer whose clock is an hour behind still schedules 60 s from Redis's now."""
    queue = Queue(real_client, prefix)
    monkeypatch.setattr(time, "time", lambda real=time.time: real() - 3600)
    job_id = queue.enqueue_in({"n": 1}, 60)
    seconds, micros = real_client.time()
    assert real_client.zscore(queue.keys.delayed, job_id) - (seconds + micros / 1e6) == pytest.approx(60, abs=1)


def test_heartbeats_are_scored_by_redis_clock(client, prefix):
    queue = Queue(client, prefix)
    queue.registry.beat("w1", None, {})
    seconds, micros = client.time()
    assert queue.registry.workers()[0]["last_beat"] == pytest.approx(seconds + micros / 1e6, abs=1)


def test_a_retry_is_due_after_its_backoff_by_redis_clock(make_server, client, prefix, monkeypatch):
    queue = Queue(client, prefix)

    def boom(job):
        raise RuntimeError("boom")

    monkeypatch.setattr(time, "time", lambda real=time.time: real() + 3600)  # this worker's clock ahead
    server = make_server(boom, backoff=lambda attempt: 30)
    job_id = queue.enqueue({"n": 1})
    server.start()
    wait_for(lambda: client.zscore(queue.keys.delayed, job_id) is not None, message="the retry scheduled")
    seconds, micros = client.time()
    assert client.zscore(queue.keys.delayed, job_id) - (seconds + micros / 1e6) == pytest.approx(30, abs=2)


# -- outages every worker suffers --------------------------------------------------------------


@pytest.mark.slow
def test_a_redis_restart_longer_than_two_heartbeats_makes_no_live_worker_look_dead(prefix, spawn, report, tmp_path):
    """Two workers with 1 s heartbeats run 8-second jobs; Redis is down for 4 s (its data kept
    in an append-only file) and comes back: no worker recovers the other's jobs."""
    server = RedisProcess(extra=["--appendonly", "yes", "--appendfsync", "always"]).start()
    try:
        import redis

        client = redis.Redis(port=server.port, host="127.0.0.1")
        record = f"{prefix}:test:ran"
        count = 8
        Queue(client, prefix).enqueue_many([{"n": n, "sleep": 8, "record": record} for n in range(count)])
        options = ("--heartbeat-interval", "1", "--concurrency", "4")
        workers = [spawn("record", server.url, prefix, *options) for _ in range(2)]
        wait_for(lambda: sum(w["pending"] for w in Queue(client, prefix).stats()["workers"]) == count,
                 timeout=20, message="every job running")
        server.stop()
        time.sleep(4)  # the outage itself: longer than two heartbeat intervals
        server.start()
        client = redis.Redis(port=server.port, host="127.0.0.1")
        wait_for(lambda: all_ran(client, record, count), timeout=40, message="every job to run")
        wait_for(lambda: settled(Queue(client, prefix)), timeout=20, message="every job settled")
        ran, duplicates, lost = tally(client, record, count)
        report("Redis down 4 s, heartbeat 1 s", jobs=count, duplicates=duplicates, lost=lost)
        assert (duplicates, lost) == (0, 0)
        assert not any("stopped heartbeating" in w.log() for w in workers)
    finally:
        server.cleanup()


def test_a_worker_never_runs_a_job_twice_at_once_when_it_takes_it_back(servers, real_client, prefix, caplog):
    """Presumed dead (its job requeued by another) while the job still runs, a worker fetches
    that job again: it does not start a second run, and the first run settles it once."""
    gated = Gated()
    server = servers(gated, real_client, prefix, concurrency=2)
    queue = Queue(real_client, prefix)
    job_id = queue.enqueue({"n": 1})
    server.start()
    wait_for(lambda: gated.started == [1], message="the job running")
    other = servers(Buffer(), real_client, prefix, worker_id="other")
    assert other.recover(now=time.time() + 3600) == 1  # presumes the running worker dead
    wait_for(lambda: "came back while its run here is not settled" in caplog.text, message="the job taken back")
    assert gated.started == [1]
    gated.gate.set()
    wait_for(lambda: queue.completed_count() == 1, message="the job completed")
    assert gated.finished == [1] and queue.ready_list.size() == 0
    assert server.processing_list.size() == 0 and queue.job_store.get(job_id) is None


# -- a job that exits --------------------------------------------------------------------------


@pytest.mark.slow
def test_a_job_that_calls_sys_exit_is_a_failure_and_ends_in_the_dead_set(redis_process, real_client, prefix, spawn):
    started = f"{prefix}:test:started"
    queue = Queue(real_client, prefix)
    job_id = queue.enqueue({"n": 1, "started": started})
    worker = spawn("exits", redis_process.url, prefix, "--max-attempts", "2", "--heartbeat-interval", "1")
    wait_for(lambda: queue.dead_set.size() == 1, timeout=30, message="the job in the dead set")
    assert runs(real_client, started) == {1: 2}
    assert queue.dead_set.get(job_id).error["type"] == "SystemExit"
    assert worker.alive()
    worker.signal(signal.SIGTERM)
    assert worker.wait(20) == 0


def test_keyboard_interrupt_raised_by_a_job_is_a_failed_attempt(make_server, client, prefix):
    def interrupted(job):
        raise KeyboardInterrupt

    queue = Queue(client, prefix)
    job_id = queue.enqueue({"n": 1})
    server = make_server(interrupted, max_attempts=1)
    server.start()
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert queue.dead_set.get(job_id).error["type"] == "KeyboardInterrupt"
    assert server.running


# -- reserved keys at the edge ---------------------------------------------------------------


@pytest.mark.parametrize(
    "job, error, says",
    [
        ({"timeout": "ten"}, TypeError, "'timeout' must be a positive number of seconds, not 'ten'"),
        ({"timeout": -1}, ValueError, "'timeout' must be a positive number of seconds, not -1"),
        ({"max_attempts": "x"}, TypeError, "'max_attempts' must be a positive integer, not 'x'"),
        ({"max_attempts": 0}, ValueError, "'max_attempts' must be a positive integer, not 0"),
        ({"max_attempts": True}, TypeError, "'max_attempts' must be a positive integer, not True"),
        ({"scheduled_at": "tomorrow"}, ValueError, "'scheduled_at'"),
    ],
)
def test_a_bad_reserved_key_is_refused_at_enqueue_and_nothing_is_written(client, prefix, job, error, says):
    queue = Queue(client, prefix)
    with pytest.raises(error, match=says.replace("(", r"\(")):
        queue.enqueue(dict(job, n=1))
    assert queue.job_store.size() == 0 and queue.ready_list.size() == 0 and queue.delayed_jobs.size() == 0


def test_a_bad_reserved_key_in_a_batch_names_its_index(client, prefix):
    queue = Queue(client, prefix)
    with pytest.raises(TypeError, match="index 1: job key 'timeout'"):
        queue.enqueue_many([{"n": 0}, {"n": 1, "timeout": "ten"}])
    assert queue.job_store.size() == 0


def test_a_bad_reserved_key_written_by_another_producer_goes_to_the_dead_set_once(make_server, client, prefix):
    queue = Queue(client, prefix)
    queue.ready_list.add([("raw", b'{"n": 1, "timeout": "ten"}')])  # past the checks, as another producer might
    ran = []
    make_server(ran.append).start()
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    dead = queue.dead_set.get("raw")
    assert dead.attempts == 1 and "'timeout'" in dead.error["message"] and ran == []


# -- caller ids: an enqueue safe to retry ------------------------------------------------------


def test_an_enqueue_with_the_callers_id_is_stored_once(client, prefix):
    queue = Queue(client, prefix)
    assert queue.enqueue({"n": 1}, id="order-42") == "order-42"
    assert queue.enqueue({"n": 2}, id="order-42") == "order-42"
    assert queue.ready_list.peek() == ["order-42"]
    assert queue.coder.load(queue.job_store.get("order-42")) == {"n": 1}


def test_a_callers_id_is_remembered_after_the_job_completed(make_server, client, prefix):
    queue = Queue(client, prefix)
    buffer = Buffer()
    make_server(buffer).start()
    queue.enqueue({"n": 1}, id="once")
    assert buffer.pop(timeout=5) == {"n": 1}
    wait_for(lambda: queue.completed_count() == 1)
    queue.enqueue({"n": 1}, id="once")
    assert buffer.pop(timeout=0.5) is None and queue.ready_list.size() == 0


def test_a_delayed_enqueue_with_the_callers_id_is_stored_once(client, prefix):
    queue = Queue(client, prefix)
    queue.enqueue_in({"n": 1}, 60, id="later")
    queue.enqueue_in({"n": 1}, 60, id="later")
    assert queue.delayed_jobs.size() == 1 and queue.ready_list.size() == 0


@pytest.mark.parametrize("bad", ["", "x" * 201, 42])
def test_a_bad_caller_id_is_refused(fake_client, prefix, bad):
    with pytest.raises(ValueError, match="job id"):
        Queue(fake_client, prefix).enqueue({"n": 1}, id=bad)


def test_retrying_an_enqueue_whose_reply_was_lost_makes_no_duplicate(prefix):
    """Redis frozen past the client's socket timeout: the enqueue raises TimeoutError although
    Redis takes the job when it thaws; retried with the same id, it is not stored twice."""
    import redis

    server = RedisProcess().start()
    try:
        client = redis.Redis(port=server.port, host="127.0.0.1", socket_timeout=0.3)
        queue = Queue(client, prefix)
        queue.enqueue({"n": 0}, id="warm-up")  # its script loaded, a connection made
        server.process.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(redis.TimeoutError):
                queue.enqueue({"n": 1}, id="payment-7")
        finally:
            server.process.send_signal(signal.SIGCONT)
        wait_for(lambda: "payment-7" in queue.ready_list.peek(5), message="the first call's job stored")
        assert queue.enqueue({"n": 1}, id="payment-7") == "payment-7"
        assert queue.ready_list.peek(5).count("payment-7") == 1
    finally:
        server.cleanup()


# -- time limits that hold, or say so -----------------------------------------------------------


def test_a_job_that_holds_the_cpu_past_its_limit_is_named_in_a_warning(make_server, client, prefix, caplog):
    def spin(job):
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            pass

    queue = Queue(client, prefix)
    job_id = queue.enqueue({"n": 1, "timeout": 0.1})
    make_server(spin).start()
    wait_for(lambda: queue.completed_count() == 1, message="the job settled")
    [warning] = [r for r in caplog.records if "past its time limit" in r.getMessage()]
    assert warning.levelno == logging.WARNING and job_id in warning.getMessage()


def test_a_job_that_yields_is_stopped_at_its_limit(make_server, client, prefix):
    queue = Queue(client, prefix)
    job_id = queue.enqueue({"n": 1, "timeout": 0.1})
    make_server(lambda job: gevent.sleep(5), max_attempts=1).start()
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert queue.dead_set.get(job_id).error["type"] == "JobTimeout"
