"""Jobs you can find, follow, cancel and deduplicate: state by id, results, cancel (queued and
running), unique keys, expiry, pause, per-task retry policy and progress. Each promise on a real
redis-server and on fakeredis unless it needs real blocking or processes."""

import time

import gevent
import pytest

import gjobs
from gjobs import Buffer, JobCancelled, JobFailed, Queue, UnknownJob
from gjobs.processing_list import ProcessingList
from gjobs.tasks import TaskRegistry, TaskRunner
from gjobs.worker_registry import WorkerRegistry

from .helpers import Gated, wait_for


def boom(job):
    raise RuntimeError(f"job {job['n']} failed")


# -- state by id ----------------------------------------------------------------------------------


def test_an_unknown_id_is_unknown(queue):
    assert queue.job("nope").state == "unknown"


def test_a_ready_job_tells_its_position_and_when_it_was_enqueued(queue):
    before = time.time()
    first, second = queue.enqueue({"n": 1}), queue.enqueue({"n": 2})
    info = queue.job(second)
    assert (info.state, info.position, info.job) == ("ready", 1, {"n": 2})
    assert queue.job(first).position == 0
    assert before - 1 <= info.enqueued_at <= time.time() + 1


def test_a_delayed_job_tells_when_it_is_due(queue, client):
    job_id = queue.enqueue_in({"n": 1}, 60)
    seconds, micros = client.time()
    info = queue.job(job_id)
    assert info.state == "delayed" and info.due_at == pytest.approx(seconds + micros / 1e6 + 60, abs=1)


def test_a_running_job_tells_its_worker_and_since_when(make_server, queue):
    gated = Gated()
    server = make_server(gated)
    job_id = queue.enqueue({"n": 1})
    server.start()
    wait_for(lambda: gated.started == [1])
    info = queue.job(job_id)
    assert (info.state, info.worker, info.attempts) == ("running", server.id, 1)
    assert info.task is None
    gated.gate.set()


def test_a_running_job_tells_since_when_from_its_workers_next_heartbeat(make_server, queue, client):
    gated = Gated()
    server = make_server(gated)
    job_id = queue.enqueue({"n": 1})
    server.start()
    wait_for(lambda: gated.started == [1])
    seconds, micros = client.time()
    info = wait_for(lambda: (lambda i: i if i.started_at is not None else None)(queue.job(job_id)),
                    timeout=2 * server.options.heartbeat_interval + 1, message="a start time")
    assert info.state == "running" and info.started_at == pytest.approx(seconds + micros / 1e6, abs=1)
    gated.gate.set()


def test_a_failed_job_waiting_for_its_retry_is_retrying(make_server, queue):
    make_server(boom, backoff=lambda attempt: 60).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "retrying", message="the retry scheduled")
    info = queue.job(job_id)
    assert info.attempts == 1 and info.due_at is not None


def test_a_dead_job_tells_its_error(make_server, queue):
    make_server(boom, max_attempts=1).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "dead", message="the job dead")
    assert queue.job(job_id).error["message"] == "job 1 failed"


def test_a_succeeded_job_tells_when_it_ended(make_server, queue):
    make_server(Buffer()).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "succeeded", message="the job succeeded")
    assert queue.job(job_id).finished_at is not None


def test_a_job_with_gjobs_options_also_tells_how_long_it_ran(make_server, queue):
    make_server(lambda job: gevent.sleep(0.05)).start()
    job_id = queue.enqueue({"n": 1, "timeout": 60})
    wait_for(lambda: queue.job(job_id).state == "succeeded", message="the job succeeded")
    info = queue.job(job_id)
    assert info.ran_for >= 0.04 and info.attempts == 1 and info.worker is not None


def test_the_last_finished_jobs_are_kept_and_twice_as_many_at_most(make_server, queue):
    make_server(Buffer(), keep_finished=3).start()
    ids = []
    for n in range(10):
        ids.append(queue.enqueue({"n": n}))
        wait_for(lambda count=n + 1: queue.completed_count() == count)
    states = [queue.job(job_id).state for job_id in ids]
    assert states[-3:] == ["succeeded"] * 3
    assert states.count("succeeded") <= 6 and states[0] == "unknown"


def test_finished_jobs_are_forgotten_by_themselves_after_twice_their_age(make_server, queue):
    make_server(Buffer(), keep_finished_age=0.2).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "succeeded")
    wait_for(lambda: queue.job(job_id).state == "unknown", timeout=2, message="the record to expire")


def test_a_task_delay_returns_an_id_that_follows_its_job(make_server, queue):
    registry = TaskRegistry()
    double = gjobs.tasks.Task(lambda x: x * 2, name="tests:double", queue=queue, result_ttl=60)
    registry.add(double)
    make_server(TaskRunner(registry=registry)).start()
    handle = double.delay(21)
    assert isinstance(handle, str) and len(handle) == 32
    assert handle.result(timeout=10) == 42
    assert handle.info().state == "succeeded"


# -- results --------------------------------------------------------------------------------------


def test_a_result_is_kept_for_a_job_that_asks(make_server, queue):
    make_server(lambda job: {"rows": job["n"] * 10}).start()
    job_id = queue.enqueue({"n": 4, "result_ttl": 60})
    assert queue.result(job_id, timeout=10) == {"rows": 40}


def test_waiting_for_a_result_runs_out_with_a_timeout_error(queue):
    job_id = queue.enqueue({"n": 1, "result_ttl": 60})  # no worker runs it
    with pytest.raises(TimeoutError):
        queue.result(job_id, timeout=0.2)


def test_the_result_of_a_dead_job_raises_with_its_dead_record(make_server, queue):
    make_server(boom, max_attempts=1).start()
    job_id = queue.enqueue({"n": 1, "result_ttl": 60})
    with pytest.raises(JobFailed) as failed:
        queue.result(job_id, timeout=10)
    assert failed.value.info.state == "dead" and failed.value.info.error["type"] == "RuntimeError"


def test_a_result_too_large_is_refused_with_the_reason(make_server, queue, caplog):
    make_server(lambda job: "x" * (gjobs.results.MAX_RESULT_BYTES + 10)).start()
    job_id = queue.enqueue({"n": 1, "result_ttl": 60})
    with pytest.raises(JobFailed, match="more than the"):
        queue.result(job_id, timeout=10)
    assert "its result is not kept" in caplog.text and queue.job(job_id).state == "succeeded"


def test_the_result_of_an_unknown_job_raises_unknown_job(queue):
    with pytest.raises(UnknownJob):
        queue.result("nope", timeout=1)


def test_a_job_without_result_ttl_keeps_no_result(make_server, queue, client):
    make_server(lambda job: 42).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "succeeded")
    assert client.get(queue.keys.result(job_id)) is None


def test_a_result_expires_with_its_ttl(make_server, queue):
    make_server(lambda job: 1).start()
    job_id = queue.enqueue({"n": 1, "result_ttl": 0.2})
    assert queue.result(job_id, timeout=10) == 1
    wait_for(lambda: not queue.job(job_id).result_kept, message="the result expired")
    with pytest.raises(JobFailed, match="kept no result"):
        queue.result(job_id, timeout=1)


# -- cancel ---------------------------------------------------------------------------------------


def test_cancel_removes_a_delayed_job(queue):
    job_id = queue.enqueue_in({"n": 1}, 60)
    assert queue.cancel(job_id) is True
    assert queue.delayed_jobs.size() == 0 and queue.job(job_id).state == "cancelled"


def test_a_cancelled_ready_job_never_runs(make_server, queue):
    job_id = queue.enqueue({"n": 1})
    assert queue.cancel(job_id) is True
    ran = Buffer()
    make_server(ran).start()
    later = queue.enqueue({"n": 2})
    assert ran.pop(timeout=5) == {"n": 2}
    assert ran.pop(timeout=0.2) is None
    assert queue.job(job_id).state == "cancelled" and queue.job(later).state in ("running", "succeeded")
    assert queue.stats()["missing"] == 0  # dropped quietly: a cancel is not a lost payload


def test_a_running_job_is_stopped_by_its_cancel_and_not_retried(make_server, queue):
    stopped = []

    def long_job(job):
        try:
            gevent.sleep(30)
        except JobCancelled:
            stopped.append(job["n"])
            raise

    make_server(long_job).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "running", message="the job running")
    asked = time.monotonic()
    assert queue.cancel(job_id) is True
    wait_for(lambda: stopped == [1], timeout=5, message="the running job stopped")
    assert time.monotonic() - asked < 2
    wait_for(lambda: queue.stats()["in_progress"] == 0, message="the job settled")
    assert queue.job(job_id).state == "cancelled"
    assert queue.delayed_jobs.size() == 0 and queue.dead_set.size() == 0 and queue.ready_list.size() == 0


def test_cancel_of_a_finished_or_unknown_job_returns_false(make_server, queue):
    make_server(Buffer()).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).state == "succeeded")
    assert queue.cancel(job_id) is False and queue.cancel("nope") is False


def test_cancels_racing_fetches_either_run_a_job_or_cancel_it_never_both(real_client, prefix, servers):
    """Many greenlets cancel jobs while a worker fetches them: every job either ran or was
    cancelled (never both, never neither)."""
    queue = Queue(real_client, prefix)
    ran = []
    servers(lambda job: ran.append(job["n"]), real_client, prefix, concurrency=10).start()
    ids = queue.enqueue_many([{"n": n} for n in range(300)])
    cancelled = gevent.pool.Pool(50).map(queue.cancel, ids[::2])
    wait_for(lambda: all(queue.job(job_id).state in ("succeeded", "cancelled") for job_id in ids), timeout=20)
    states = {n: queue.job(job_id).state for n, job_id in enumerate(ids)}
    assert sorted(ran) == sorted(n for n, state in states.items() if state == "succeeded")
    assert all(states[2 * i] == "cancelled" for i, done in enumerate(cancelled) if done and 2 * i not in ran)


# -- unique jobs ----------------------------------------------------------------------------------


def test_a_second_job_with_a_unique_key_returns_the_first_ones_id(queue):
    first = queue.enqueue({"n": 1, "unique_key": "report:42"})
    assert queue.enqueue({"n": 2, "unique_key": "report:42"}) == first
    assert queue.ready_list.size() == 1


def test_a_unique_key_is_released_when_its_job_succeeds(make_server, queue):
    make_server(Buffer()).start()
    first = queue.enqueue({"n": 1, "unique_key": "k"})
    wait_for(lambda: queue.job(first).state == "succeeded")
    assert queue.enqueue({"n": 2, "unique_key": "k"}) != first


def test_a_unique_key_is_released_when_its_job_dies_or_is_cancelled(make_server, queue):
    make_server(boom, max_attempts=1).start()
    dead = queue.enqueue({"n": 1, "unique_key": "k"})
    wait_for(lambda: queue.job(dead).state == "dead")
    later = queue.enqueue_in({"n": 2, "unique_key": "k"}, 60)
    assert later != dead
    queue.cancel(later)
    assert queue.enqueue_in({"n": 3, "unique_key": "k"}, 60) not in (dead, later)


def test_a_unique_key_is_released_when_its_job_is_buried_with_a_lost_worker(queue, client):
    first = queue.enqueue({"n": 1, "unique_key": "k"})
    registry = WorkerRegistry(client, queue.keys)
    registry.beat("lost", 1.0, {})  # its last beat, long ago
    ProcessingList(client, queue.keys, "lost").fetch(1)  # its one attempt, spent when it vanished
    registry.recover("lost", time.time(), 1, time.time(), {"type": "WorkerLost", "message": "gone"})
    assert queue.job(first).state == "dead"
    assert queue.enqueue({"n": 2, "unique_key": "k"}) != first


def test_a_unique_key_is_released_after_its_hold(queue):
    first = queue.enqueue({"n": 1, "unique_key": "k", "unique_for": 0.1})
    wait_for(lambda: queue.enqueue({"n": 2, "unique_key": "k", "unique_for": 60}) != first, message="the hold ended")


def test_unique_enqueues_racing_store_one_job(real_client, prefix):
    queue = Queue(real_client, prefix)
    ids = gevent.pool.Pool(50).map(lambda n: queue.enqueue({"n": n, "unique_key": "same"}), range(200))
    assert len(set(ids)) == 1 and queue.ready_list.size() == 1


def test_a_task_with_unique_for_keeps_its_same_arguments_out(queue):
    task = gjobs.tasks.Task(lambda user: None, name="tests:sync", queue=queue, unique_for=60)
    assert task.delay(7) == task.delay(7)
    assert task.delay(8) != task.delay(7)
    assert queue.ready_list.size() == 2


# -- expiry, pause, retry policy, progress ----------------------------------------------------------


def test_a_job_that_expired_before_it_started_is_dropped_and_counted(make_server, queue):
    job_id = queue.enqueue({"n": 1, "expires": time.time() - 1})
    ran = Buffer()
    make_server(ran).start()
    wait_for(lambda: queue.job(job_id).state == "expired", message="the job expired")
    assert ran.pop(timeout=0.2) is None and queue.stats()["expired"] == 1


def test_a_paused_queue_hands_out_nothing_until_resumed(make_server, queue):
    ran = Buffer()
    server = make_server(ran, block_timeout=0.1)
    server.start()
    queue.pause()
    wait_for(lambda: queue.stats()["paused"])
    gevent.sleep(0.3)  # more than one block timeout: the fetcher looks and finds the queue paused
    job_id = queue.enqueue({"n": 1})
    assert ran.pop(timeout=0.5) is None and queue.job(job_id).state == "ready"
    queue.resume()
    assert ran.pop(timeout=5) == {"n": 1}


def test_a_task_retries_only_the_errors_it_names(make_server, queue):
    registry = TaskRegistry()

    def flaky(kind):
        raise {"io": OSError, "bug": KeyError}[kind]("no")

    task = gjobs.tasks.Task(flaky, name="tests:flaky", queue=queue, retry_on=(OSError,), backoff=lambda a: 60)
    registry.add(task)
    make_server(TaskRunner(registry=registry)).start()
    retried, buried = task.delay("io"), task.delay("bug")
    wait_for(lambda: queue.job(retried).state == "retrying" and queue.job(buried).state == "dead")
    assert queue.job(retried).due_at - time.time() == pytest.approx(60, abs=3)


def test_a_running_job_reports_its_progress(make_server, queue):
    gate = gevent.event.Event()

    def working(job):
        gjobs.current_job().progress(0.5, "half the rows")
        gate.wait()

    make_server(working).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.job(job_id).progress is not None, message="the progress reported")
    assert queue.job(job_id).progress["done"] == 0.5 and queue.job(job_id).progress["note"] == "half the rows"
    gate.set()
    wait_for(lambda: queue.job(job_id).state == "succeeded")
    assert queue.job(job_id).progress is None


def test_there_is_no_current_job_outside_a_job():
    assert gjobs.current_job() is None


def test_the_batch_that_turns_a_generation_over_lives_a_whole_generation(client, queue):
    worker = ProcessingList(client, queue.keys, "w1", keep_finished_age=0.5)  # a generation: 1 s
    first = queue.enqueue({"n": 1})
    worker.fetch(1)
    worker.complete([first])
    wait_for(lambda: 0 <= client.pttl(queue.keys.finished) <= 500, message="the generation's second half")
    second = queue.enqueue({"n": 2})
    worker.fetch(1)
    worker.complete([second])
    assert client.hexists(queue.keys.finished, second) and client.pttl(queue.keys.finished) > 700
    assert queue.job(first).state == queue.job(second).state == "succeeded"


def test_a_cancel_before_any_worker_settled_starts_a_generation_that_expires(client, queue):
    job_id = queue.enqueue({"n": 1})
    assert queue.cancel(job_id)
    assert queue.job(job_id).state == "cancelled" and client.pttl(queue.keys.finished) > 0
