"""The failure policy: retries with backoff, attempts kept in Redis, the dead set as the end.

Every server-level promise runs on a real redis-server and on fakeredis; the crash test runs
real worker processes.
"""

import statistics
import time

import gevent
import pytest

from gjobs import JobTimeout, Queue, RetryPolicy, Server, default_backoff
from gjobs.retries import BACKOFF_CAP
from tests.fault_delegates import WorkerProcess, runs
from tests.helpers import wait_for


class Delegate:
    """Runs ``behaviour(job)`` and remembers every job it was given."""

    def __init__(self, behaviour=None):
        self.calls = []
        self.behaviour = behaviour

    def call(self, job):
        self.calls.append(job)
        if self.behaviour is not None:
            self.behaviour(job)


def boom(job):
    raise RuntimeError("boom")


# -- the backoff ------------------------------------------------------------------------------


def test_first_retry_comes_after_1_to_30_seconds():
    delays = [default_backoff(1) for _ in range(1000)]
    assert 1 <= min(delays) and max(delays) <= 30


def test_backoff_grows_exponentially_to_hours():
    medians = [statistics.median(default_backoff(n) for _ in range(200)) for n in range(1, 13)]
    assert all(later > earlier * 1.5 for earlier, later in zip(medians, medians[1:]))
    assert medians[-1] >= 3600


def test_backoff_is_capped():
    delays = [default_backoff(n) for n in (20, 25, 100, 10**6) for _ in range(200)]
    assert max(delays) <= BACKOFF_CAP
    assert BACKOFF_CAP <= 24 * 3600


def test_backoff_has_jitter_so_jobs_that_failed_together_retry_apart():
    delays = {round(default_backoff(3), 3) for _ in range(100)}
    assert len(delays) > 50


def test_policy_retries_until_max_attempts_then_buries():
    policy = RetryPolicy(max_attempts=3, backoff=lambda attempt: 7)
    assert [policy.decide(n).retry for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert policy.decide(1).delay == 7


def test_policy_without_max_attempts_retries_forever():
    assert RetryPolicy(max_attempts=None).decide(10**6).retry


def test_policy_never_retries_a_failure_that_cannot_succeed():
    assert not RetryPolicy(max_attempts=None).decide(1, retryable=False).retry


@pytest.mark.parametrize("bad", [0, -1, 2.5, "3"])
def test_policy_refuses_a_bad_max_attempts(bad):
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=bad)


# -- retrying ---------------------------------------------------------------------------------


def test_failed_job_waits_in_the_delayed_set_for_its_backoff(make_server, queue):
    asked = []

    def backoff(attempt):
        asked.append(attempt)
        return 300

    server = make_server(Delegate(boom), backoff=backoff)
    server.start()
    job_id = queue.enqueue({"n": 1})
    before = time.time()
    wait_for(lambda: queue.delayed_jobs.size() == 1, message="the job in the delayed set")
    due = queue.client.zscore(queue.keys.delayed, job_id)
    assert before + 299 <= due <= time.time() + 300
    assert asked == [1]
    assert queue.job_store.attempts(job_id) == 1


def test_failed_job_runs_again_until_it_succeeds(make_server, queue):
    def fail_twice(job):
        if len(delegate.calls) <= 2:
            raise RuntimeError("not yet")

    delegate = Delegate(fail_twice)
    make_server(delegate, backoff=lambda attempt: 0).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.completed_count() == 1, message="the job to complete")
    assert len(delegate.calls) == 3
    assert queue.job_store.attempts(job_id) == 0  # forgotten with the job
    assert queue.job_store.get(job_id) is None
    assert queue.dead_set.size() == 0


def test_backoff_is_given_the_number_of_the_failed_attempt(make_server, queue):
    asked = []

    def backoff(attempt):
        asked.append(attempt)
        return 0

    make_server(Delegate(boom), backoff=backoff, max_attempts=4).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert asked == [1, 2, 3]


def test_attempts_live_in_redis_and_survive_a_worker_restart(make_server, queue):
    first = make_server(Delegate(boom), backoff=lambda attempt: 3600, max_attempts=3)
    first.start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.delayed_jobs.size() == 1, message="the first failure")
    first.stop(timeout=1)
    assert queue.job_store.attempts(job_id) == 1

    queue.client.zadd(queue.keys.delayed, {job_id: time.time()})  # due now
    delegate = Delegate(boom)
    make_server(delegate, backoff=lambda attempt: 0, max_attempts=3).start()
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert len(delegate.calls) == 2  # attempts 2 and 3: the first was counted before the restart
    assert queue.dead()[0].attempts == 3


def test_job_goes_to_the_dead_set_after_max_attempts_with_its_error(make_server, queue):
    delegate = Delegate(boom)
    make_server(delegate, backoff=lambda attempt: 0, max_attempts=3).start()
    job = {"n": 1, "name": "send"}
    before = time.time()
    job_id = queue.enqueue(job)
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")

    (dead,) = queue.dead()
    assert len(delegate.calls) == 3
    assert (dead.id, dead.job, dead.attempts) == (job_id, job, 3)
    assert before <= dead.failed_at <= time.time()
    assert dead.error["type"] == "RuntimeError"
    assert dead.error["message"] == "boom"
    assert "in boom" in dead.error["traceback"]
    assert dead.error["traceback"].rstrip().endswith("RuntimeError: boom")
    assert queue.ready_list.size() == queue.delayed_jobs.size() == 0
    assert server_pending(queue) == 0


def server_pending(queue):
    return sum(worker["pending"] for worker in queue.stats()["workers"])


def test_dead_error_keeps_only_the_end_of_a_long_traceback(make_server, queue):
    def deep(job, depth=200):
        if depth:
            deep(job, depth - 1)
        raise ValueError("x" * 10_000)

    make_server(Delegate(deep), max_attempts=1).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    error = queue.dead()[0].error
    assert len(error["traceback"]) <= 4000
    assert error["traceback"].rstrip().endswith("x" * 100)


def test_unlimited_attempts_retry_past_the_default_limit(make_server, queue):
    def fail_30_times(job):
        if len(delegate.calls) <= 30:
            raise RuntimeError("not yet")

    delegate = Delegate(fail_30_times)
    make_server(delegate, backoff=lambda attempt: 0, max_attempts=None).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: queue.completed_count() == 1, timeout=30, message="the job to complete")
    assert len(delegate.calls) == 31
    assert queue.dead_set.size() == 0


def test_undecodable_payload_goes_straight_to_the_dead_set(make_server, queue):
    delegate = Delegate()
    make_server(delegate, backoff=lambda attempt: 0, max_attempts=5).start()
    queue.ready_list.add([("bad", b"\xff{not json")])
    wait_for(lambda: queue.dead_set.size() == 1, message="the payload in the dead set")
    (dead,) = queue.dead()
    assert dead.id == "bad"
    assert dead.attempts == 1  # no retry: it can never succeed
    assert dead.job == b"\xff{not json"  # shown raw
    assert dead.error["type"] in ("UnicodeDecodeError", "JSONDecodeError")
    assert delegate.calls == []


def test_id_without_payload_is_dropped_counted_and_logged(make_server, queue, caplog):
    delegate = Delegate()
    make_server(delegate).start()
    queue.client.lpush(queue.keys.ready, "ghost")
    wait_for(lambda: queue.stats()["missing"] == 1, message="the missing payload to be counted")
    assert queue.ready_list.size() == 0 and server_pending(queue) == 0
    assert queue.dead_set.size() == 0
    assert delegate.calls == []
    assert any("ghost" in r.getMessage() and r.levelname == "WARNING" for r in caplog.records)


# -- time limits ------------------------------------------------------------------------------


def sleep_for(job):
    gevent.sleep(job["sleep"])


def test_job_over_the_server_time_limit_fails_with_job_timeout(make_server, queue):
    make_server(Delegate(sleep_for), timeout=0.2, max_attempts=1).start()
    started = time.monotonic()
    queue.enqueue({"sleep": 30})
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert time.monotonic() - started < 5
    assert queue.dead()[0].error["type"] == JobTimeout.__name__


def test_job_over_its_own_time_limit_fails_with_job_timeout(make_server, queue):
    make_server(Delegate(sleep_for), max_attempts=1).start()
    queue.enqueue({"sleep": 30, "timeout": 0.2})
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert queue.dead()[0].error["type"] == JobTimeout.__name__


def test_job_time_limit_overrides_the_server_default(make_server, queue):
    make_server(Delegate(sleep_for), timeout=0.05, max_attempts=1).start()
    queue.enqueue({"sleep": 0.3, "timeout": 10})
    wait_for(lambda: queue.completed_count() == 1, message="the job to complete")
    assert queue.dead_set.size() == 0


def test_timed_out_job_is_retried_like_any_failure(make_server, queue):
    delegate = Delegate(sleep_for)
    make_server(delegate, timeout=0.1, backoff=lambda attempt: 0, max_attempts=2).start()
    queue.enqueue({"sleep": 30})
    wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
    assert len(delegate.calls) == 2


# -- shutdown signals are not failures --------------------------------------------------------


def test_greenlet_exit_raised_by_a_job_is_not_a_failure(client, prefix, queue):
    def leave(job):
        raise gevent.GreenletExit()

    asked = []
    delegate = Delegate(leave)
    # The default heartbeat interval: the pending id is not reconciled during the test.
    server = Server(delegate, client, prefix=prefix, backoff=lambda attempt: asked.append(attempt) or 0)
    server.start()
    try:
        job_id = queue.enqueue({"n": 1})
        wait_for(lambda: delegate.calls and server.in_progress == 0, message="the job to end")
    finally:
        server.stop(timeout=1)
    assert asked == []
    assert queue.dead_set.size() == queue.delayed_jobs.size() == 0
    assert queue.ready_list.peek() == [job_id]  # back, with its attempt given back
    assert queue.job_store.attempts(job_id) == 0


# -- crashes count ----------------------------------------------------------------------------


def test_job_that_kills_its_worker_every_time_ends_in_the_dead_set(redis_process, real_client, prefix, tmp_path):
    """Each worker process runs the job and dies at once (``os._exit``); the next one started
    recovers the job from the dead worker's pending list. After ``max_attempts`` crashes it is
    buried as abandoned instead of taking down worker after worker."""
    queue = Queue(real_client, prefix)
    job_id = queue.enqueue({"n": 1, "started": f"{prefix}:test:started"})
    options = ["--heartbeat-interval", "0.5", "--max-attempts", "3"]
    crashes = 0
    workers = []
    try:
        while queue.dead_set.size() == 0:
            assert len(workers) < 8, "the job should have been buried after 3 crashes"
            worker = WorkerProcess("crash", redis_process.url, prefix, tmp_path, *options)
            workers.append(worker)
            wait_for(
                lambda worker=worker: not worker.alive() or queue.dead_set.size(), timeout=30,
                message="the worker to crash or the job to be buried",
            )
            if not worker.alive():
                assert worker.wait(5) == 17
                crashes += 1
    finally:
        for worker in workers:
            worker.close()
    (dead,) = queue.dead()
    assert crashes == 3
    assert runs(real_client, f"{prefix}:test:started") == {1: 3}
    assert (dead.id, dead.attempts) == (job_id, 3)
    assert dead.error["type"] == "WorkerLost"
    assert "abandoned" in dead.error["message"]
