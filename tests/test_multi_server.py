"""Several queues in one worker (``gjobs.MultiServer`` and ``gjobs-worker --queue``): one
concurrency limit, strict or weighted priority, no head-of-line blocking, a clean stop, recovery
per queue, and every queue in ``gjobs stats``."""

import random
import signal
import statistics
import time

import gevent
import gevent.event
import gevent.pool
import pytest

from gjobs import MultiServer, Queue

from .helpers import Gated, wait_for
from .multi import Recorder, completed, enqueue, make_multi, pending

# -- one limit ----------------------------------------------------------------------------------


def test_one_limit_bounds_the_jobs_running_over_all_queues(client, names, multis):
    recorder = Recorder()
    for name in names:
        enqueue(client, name, 8, sleep=0.01)
    multi = make_multi(multis, client, names, recorder, concurrency=4, weights=[3, 2, 1], fetch_batch=2)
    multi.start()
    wait_for(lambda: completed(client, names) == 24, message="every job done")
    assert recorder.peak == 4
    assert sorted(set(recorder.started)) == sorted(names)


@pytest.mark.parametrize("weights", [None, [3, 2, 1]], ids=["strict", "weighted"])
def test_jobs_taken_from_redis_never_exceed_the_limit_over_all_queues(client, names, multis, weights):
    gated = Gated(key="q")
    for name in names:
        enqueue(client, name, 5)
    multi = make_multi(multis, client, names, gated, concurrency=4, weights=weights, fetch_batch=2)
    # The pending lists of all queues after every move into one of them, while no job has ended
    # (a job that ended stays in its pending list until its batch of reports reaches Redis).
    seen = []
    for consumer in multi.consumers:
        for method in ("fetch", "wait"):
            original = getattr(consumer.processing_list, method)

            def recorded(*args, _original=original, **kwargs):
                result = _original(*args, **kwargs)
                seen.append(pending(client, names))
                return result

            setattr(consumer.processing_list, method, recorded)
    multi.start()
    wait_for(lambda: multi.in_progress == 4, message="four jobs running")
    assert pending(client, names) == 4
    assert sum(Queue(client, name).ready_list.size() for name in names) == 11
    assert seen and max(seen) <= 4
    gated.gate.set()
    wait_for(lambda: completed(client, names) == 15, message="every job done")


# -- priority -----------------------------------------------------------------------------------


def test_strict_priority_starts_the_whole_high_backlog_before_any_low_job(client, names, multis):
    high, default, low = names
    recorder = Recorder()
    enqueue(client, high, 10, sleep=0.005)
    enqueue(client, low, 10, sleep=0.005)
    multi = make_multi(multis, client, names, recorder, concurrency=3)
    multi.start()
    wait_for(lambda: completed(client, names) == 20, message="every job done")
    assert recorder.started == [high] * 10 + [low] * 10


def test_strict_priority_holds_from_the_first_fetch_when_the_high_queue_is_slow_to_start(
    client, names, multis
):
    high, _, low = names
    recorder = Recorder()
    enqueue(client, high, 4)
    enqueue(client, low, 4)
    multi = make_multi(multis, client, [high, low], recorder, concurrency=2)
    ids = multi.consumers[0].processing_list.ids

    def slow_ids():  # the high loop's first call (a check of its pending list) takes a while
        gevent.sleep(0.2)
        return ids()

    multi.consumers[0].processing_list.ids = slow_ids
    multi.start()
    wait_for(lambda: completed(client, [high, low]) == 8, message="every job done")
    assert recorder.started == [high] * 4 + [low] * 4


def test_weighted_priority_moves_both_backlogs_in_proportion_to_the_weights(client, names, multis):
    high, _, low = names
    recorder = Recorder()
    enqueue(client, high, 120, sleep=0.002)
    enqueue(client, low, 120, sleep=0.002)
    multi = make_multi(multis, client, [high, low], recorder, concurrency=4, weights=[3, 1])
    multi.start()
    wait_for(lambda: completed(client, [high, low]) == 240, message="every job done")
    first_half = recorder.started[:120]  # while both queues had a backlog
    # 3:1 expects 30 low jobs (standard deviation about 5); strict priority would give none.
    assert 15 <= first_half.count(low) <= 45, (first_half.count(high), first_half.count(low))


def test_a_high_queue_that_fails_does_not_hold_up_the_lower_ones(real_client, names, multis, caplog):
    high, _, low = names
    broken = Queue(real_client, high).keys.ready
    real_client.set(broken, "not a list")  # every fetch of the high queue fails
    multi = make_multi(multis, real_client, [high, low], Recorder(), concurrency=2)
    try:
        multi.start()
        wait_for(lambda: "fetch loop of worker" in caplog.text, message="the high queue's fetch to fail")
        started = time.monotonic()
        enqueue(real_client, low, 3)
        wait_for(lambda: completed(real_client, [low]) == 3, timeout=5, message="the low queue's jobs")
        assert time.monotonic() - started < 0.5
    finally:
        multi.stop(timeout=0)
        real_client.delete(broken)


# -- no head-of-line blocking -------------------------------------------------------------------


class Clocked:
    """Notes when each job starts."""

    def __init__(self):
        self.started = {}

    def call(self, job):
        self.started[job["n"]] = time.time()


def test_a_job_on_a_low_queue_never_waits_for_an_empty_high_queue(real_client, names, multis):
    """Every queue blocks on its own ready list: with the high queues empty and a block timeout
    of 1 s, a job enqueued on the low queue starts within milliseconds."""
    high, default, low = names
    clocked = Clocked()
    multi = make_multi(multis, real_client, names, clocked, concurrency=4, block_timeout=1)
    multi.start()
    wait_for(lambda: sum(c.get("cmd") == "blmove" for c in real_client.client_list()) >= 3,
             message="every queue blocked on its ready list")
    queue = Queue(real_client, low)
    chance = random.Random(7)
    latencies = []
    for n in range(50):
        # Arrivals spread over about 1.5 s, so that some land while a blocking fetch restarts.
        gevent.sleep(chance.uniform(0, 0.06))
        sent = time.time()
        queue.enqueue({"q": low, "n": n})
        wait_for(lambda n=n: n in clocked.started, timeout=5, interval=0.001, message=f"job {n} to start")
        latencies.append(clocked.started[n] - sent)
    median, worst = statistics.median(latencies), max(latencies)
    print(f"\nlow-queue start latency, high queues empty, block_timeout 1 s: "
          f"median {median * 1000:.2f} ms, max {worst * 1000:.2f} ms over {len(latencies)} jobs")
    assert median < 0.1
    assert worst < 0.5  # far below the high queues' block timeout


# -- stop and recovery --------------------------------------------------------------------------


def test_stop_stops_every_queue_and_leaves_nothing_behind(client, names, multis):
    gated = Gated(key="q")
    ids = {name: enqueue(client, name, 1)[0] for name in names}
    multi = make_multi(multis, client, names, gated, concurrency=6)
    multi.start()
    wait_for(lambda: multi.in_progress == 3, message="a job running on every queue")

    multi.stop(timeout=0)

    assert not multi.running and not any(c.fetcher.loop.running for c in multi.consumers)
    for name in names:
        queue = Queue(client, name)
        assert queue.ready_list.peek() == [ids[name]]  # put back for another worker
        assert queue.registry.workers() == []
        assert client.hlen(queue.keys.workers_info) == 0
        assert client.exists(queue.keys.pending(multi.id)) == 0
    assert multi.slots.free == multi.concurrency
    assert len(multi.parent) == 0


def test_start_twice_does_nothing_the_second_time(fake_client, names, multis):
    multi = make_multi(multis, fake_client, names, Recorder())
    assert multi.start() is True
    assert multi.start() is False
    assert all(c.fetcher.loop.running and c.settler.loop.running for c in multi.consumers)


def test_if_one_queue_cannot_start_the_others_are_stopped(client, names, multis):
    multi = make_multi(multis, client, names, Recorder())

    def refuse():
        raise RuntimeError("cannot start")

    multi.consumers[2].start = refuse
    with pytest.raises(RuntimeError, match="cannot start"):
        multi.start()
    assert not multi.running
    assert all(Queue(client, name).registry.workers() == [] for name in names)


def test_the_status_line_has_a_part_per_queue(fake_client, names):
    high, default, low = names
    enqueue(fake_client, low, 2)
    multi = MultiServer(Recorder(), fake_client, names)
    assert multi.status_string() == f"{high}: R=0 D=0 P=0/0; {default}: R=0 D=0 P=0/0; {low}: R=2 D=0 P=0/0"


def test_every_queue_registers_the_same_worker(client, names, multis):
    multi = make_multi(multis, client, names, Recorder())
    multi.start()
    for name in names:
        assert [w["id"] for w in Queue(client, name).registry.workers()] == [multi.id]


def worker_args(url, names, *extra):
    queues = [arg for name in names for arg in ("--queue", name)]
    return ["tests.delegates:record", "--redis-url", url, *queues, "--heartbeat-interval", "0.5", *extra]


def test_the_jobs_of_a_killed_multi_queue_worker_are_recovered_on_every_queue(
    redis_process, real_client, names, workers
):
    url = redis_process.url
    record = f"{names[0]}-record"
    for name in names:
        Queue(real_client, name).enqueue_many([{"n": f"{name}-{n}", "key": record, "sleep": 1} for n in range(3)])
    first = workers(worker_args(url, names, "--concurrency", "12"), url)
    wait_for(lambda: real_client.llen(f"{record}:started") == 9, timeout=20, message="nine jobs running")
    [victim] = [w["id"] for w in Queue(real_client, names[0]).registry.workers()]
    first.process.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    for name in names:
        assert real_client.llen(Queue(real_client, name).keys.pending(victim)) == 3

    second = workers(worker_args(url, names, "--concurrency", "12"), url)
    wait_for(lambda: real_client.scard(f"{record}:done") == 9, timeout=20, message="every job done")

    for name in names:
        queue = Queue(real_client, name)
        assert real_client.exists(queue.keys.pending(victim)) == 0
        assert victim not in {w["id"] for w in queue.registry.workers()}
    assert second.log().count(f"worker {victim} stopped heartbeating: requeued 3") == 3


def test_sigterm_stops_a_multi_queue_worker_cleanly(redis_process, real_client, names, workers):
    url = redis_process.url
    worker = workers(worker_args(url, names, "--weights", "5,3,1"), url)
    wait_for(lambda: len(Queue(real_client, names[-1]).registry.workers()) == 1, timeout=20,
             message="the worker registered on every queue")
    for name in names:
        Queue(real_client, name).enqueue({"n": name, "key": f"{names[0]}-record", "sleep": 0})
    wait_for(lambda: completed(real_client, names) == 3, timeout=20, message="a job done on each queue")

    worker.process.send_signal(signal.SIGTERM)

    assert worker.wait() == 0
    for name in names:
        queue = Queue(real_client, name)
        assert queue.registry.workers() == []
        assert real_client.keys(f"{queue.keys.tag}:pending:*") == []
    high, default, low = names
    assert f"queues {high}=5, {default}=3, {low}=1 (weighted)" in worker.log()


# -- construction -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "queues, options, says",
    [
        ([], {}, "at least one"),
        (["a", "a"], {}, "distinct"),
        (["a", "b"], {"weights": [1]}, "one weight per queue"),
        (["a", "b"], {"weights": [1, 0]}, "weights"),
        (["a", "b"], {"concurrency": 0}, "concurrency"),
    ],
)
def test_bad_arguments_are_refused(fake_client, queues, options, says):
    with pytest.raises(ValueError, match=says):
        MultiServer(Recorder(), fake_client, queues, **options)


def test_a_parent_pool_smaller_than_concurrency_lowers_the_shared_limit(fake_client, names):
    multi = MultiServer(Recorder(), fake_client, names, parent=gevent.pool.Pool(5), concurrency=25)
    assert multi.concurrency == 5 and multi.parent.size == 5


def test_fewer_slots_than_queues_is_allowed_with_a_warning(fake_client, names, caplog):
    multi = MultiServer(Recorder(), fake_client, names, concurrency=2)
    assert multi.concurrency == 2
    assert "concurrency 2 is below the number of queues (3)" in caplog.text
