"""Graceful shutdown: stop fetching, let running jobs finish, put the rest back first, and leave
nothing of the worker behind in Redis. Also: jobs fetched by a worker that died before starting
them come back."""

import signal
import time

import gevent
import gevent.event
import pytest

from gjobs import Queue
from gjobs.processing_list import ProcessingList
from gjobs.worker_registry import WorkerRegistry
from tests.fault_delegates import WorkerProcess
from tests.helpers import Gated, wait_for


def leftovers(queue, worker_id):
    """Every trace of ``worker_id`` in Redis: keys named after it, registry and info entries."""
    traces = [key for key in queue.client.scan_iter(match=f"{queue.keys.tag}*") if worker_id.encode() in key]
    if queue.client.zscore(queue.keys.workers, worker_id) is not None:
        traces.append("registry")
    if queue.client.hget(queue.keys.workers_info, worker_id) is not None:
        traces.append("info")
    return traces


def fetching(server):
    """Whether the server's fetch loop still runs (the first thing :meth:`Server.stop` ends)."""
    return server.worker.consumers[0].fetcher.loop.running


def test_stop_stops_fetching_at_once(make_server, queue):
    delegate = Gated()
    server = make_server(delegate, concurrency=2)
    server.start()
    queue.enqueue({"n": 1})
    queue.enqueue({"n": 2})
    wait_for(lambda: len(delegate.started) == 2, message="two jobs running")
    waiting = queue.enqueue({"n": 3})
    stopping = gevent.spawn(server.stop, 30)
    wait_for(lambda: not fetching(server), message="the fetch loop to end")
    delegate.gate.set()  # slots free up while the server drains: it must not fetch job 3
    stopping.join(timeout=10)
    assert stopping.successful()
    assert delegate.started == [1, 2]
    assert queue.ready_list.peek() == [waiting]


def test_stop_lets_running_jobs_finish(make_server, queue):
    delegate = Gated()
    server = make_server(delegate)
    server.start()
    queue.enqueue({"n": 1})
    queue.enqueue({"n": 2})
    wait_for(lambda: len(delegate.started) == 2, message="two jobs running")
    gevent.spawn_later(0.2, delegate.gate.set)
    started = time.monotonic()
    server.stop(timeout=30)
    assert time.monotonic() - started < 5
    assert sorted(delegate.finished) == [1, 2]
    assert queue.completed_count() == 2
    assert queue.ready_list.size() == 0


def test_stop_puts_jobs_still_running_after_the_timeout_back_at_the_front(make_server, queue):
    delegate = Gated()
    server = make_server(delegate, concurrency=2)
    server.start()
    first, second = queue.enqueue({"n": 1}), queue.enqueue({"n": 2})
    wait_for(lambda: len(delegate.started) == 2, message="two jobs running")
    later = [queue.enqueue({"n": 3}), queue.enqueue({"n": 4})]
    started = time.monotonic()
    server.stop(timeout=0.2)
    assert time.monotonic() - started < 3
    assert delegate.finished == []
    assert queue.ready_list.peek() == [first, second] + later  # the killed jobs run next
    assert queue.job_store.attempts_many([first, second]) == [0, 0]  # a shutdown is not their fault

    rerun = Gated()
    rerun.gate.set()
    make_server(rerun, concurrency=1).start()
    wait_for(lambda: len(rerun.finished) == 4, message="every job to run")
    assert rerun.finished == [1, 2, 3, 4]


def test_after_stop_nothing_of_the_worker_is_left_in_redis(make_server, queue):
    delegate = Gated()
    server = make_server(delegate)
    server.start()
    for n in range(3):
        queue.enqueue({"n": n})
    wait_for(lambda: len(delegate.started) == 3, message="three jobs running")
    assert leftovers(queue, server.id)  # it was there
    server.stop(timeout=0.1)
    assert leftovers(queue, server.id) == []
    assert queue.ready_list.size() == 3


def test_stop_of_an_idle_server_is_prompt(make_server, queue):
    server = make_server(Gated())
    server.start()
    wait_for(lambda: queue.registry.workers(), message="the worker to register")
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    assert leftovers(queue, server.id) == []


def test_hurry_makes_a_stop_under_way_stop_waiting(make_server, queue):
    delegate = Gated()
    server = make_server(delegate)
    server.start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: delegate.started, message="the job running")
    stopping = gevent.spawn(server.stop, 60)
    wait_for(lambda: not fetching(server), message="the stop to begin")
    started = time.monotonic()
    server.hurry()
    stopping.join(timeout=10)
    assert time.monotonic() - started < 3
    assert not server.running
    assert queue.ready_list.peek() == [job_id]


@pytest.mark.parametrize("counted", [True, False], ids=["fetched", "moved-by-blmove"])
def test_job_fetched_by_a_worker_that_died_before_starting_it_is_recovered(make_server, queue, counted):
    """A worker took the job into its pending list (by the fetch script, or by BLMOVE, whose
    attempt is counted only by the fetch that follows) and died before spawning it."""
    job_id = queue.enqueue({"n": 1})
    WorkerRegistry(queue.client, queue.keys).beat("ghost", time.time() - 60, {})
    ghost = ProcessingList(queue.client, queue.keys, "ghost")
    if counted:
        ghost.fetch(1)
    else:
        queue.client.lmove(queue.keys.ready, ghost.key, "RIGHT", "LEFT")
    assert ghost.ids() == [job_id]

    delegate = Gated()
    delegate.gate.set()
    make_server(delegate).start()
    wait_for(lambda: delegate.finished == [1], message="the job to run")
    wait_for(lambda: queue.completed_count() == 1, message="the job to complete")
    assert leftovers(queue, "ghost") == []


# -- the worker process -----------------------------------------------------------------------


def start_worker(redis_process, prefix, tmp_path, *options):
    return WorkerProcess("record", redis_process.url, prefix, tmp_path, "--concurrency", "5", *options)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_second_signal_to_the_worker_skips_the_wait_and_still_puts_jobs_back(
    redis_process, real_client, prefix, tmp_path, signum
):
    queue = Queue(real_client, prefix)
    started = f"{prefix}:test:started"
    ids = [queue.enqueue({"n": n, "sleep": 120, "started": started}) for n in range(3)]
    worker = start_worker(redis_process, prefix, tmp_path, "--shutdown-timeout", "60")
    try:
        wait_for(lambda: real_client.hlen(started) == 3, timeout=30, message="three jobs running")
        worker_id = worker.registered_id(queue)
        worker.signal(signum)
        wait_for(lambda: "stopping" in worker.log(), message="the first signal to be handled")
        began = time.monotonic()
        worker.signal(signum)
        assert worker.wait(10) == 0, worker.log()
        assert time.monotonic() - began < 5
    finally:
        worker.close()
    assert sorted(queue.ready_list.peek()) == sorted(ids)
    assert leftovers(queue, worker_id) == []


def test_first_signal_to_the_worker_lets_running_jobs_finish(redis_process, real_client, prefix, tmp_path):
    queue = Queue(real_client, prefix)
    started, done = f"{prefix}:test:started", f"{prefix}:test:done"
    for n in range(3):
        queue.enqueue({"n": n, "sleep": 1, "started": started, "record": done})
    worker = start_worker(redis_process, prefix, tmp_path)
    try:
        wait_for(lambda: real_client.hlen(started) == 3, timeout=30, message="three jobs running")
        worker.signal(signal.SIGTERM)
        assert worker.wait(20) == 0, worker.log()
    finally:
        worker.close()
    assert real_client.hlen(done) == 3
    assert queue.completed_count() == 3
    assert queue.ready_list.size() == 0
