"""Delayed jobs: promoted in bounded batches, with sub-second precision, and on time."""

import time

import pytest

from gjobs import Queue
from gjobs.connection import clone
from gjobs.delayed_jobs import PROMOTE_BATCH
from gjobs.worker.promoter import Promoter

from .helpers import wait_for

NOW = 1_700_000_000.0


def schedule(client, queue, count, due):
    """``count`` ids due at ``due``, written straight into the delayed set (no payloads needed)."""
    ids = [f"job-{n}" for n in range(count)]
    for start in range(0, count, 5000):
        client.zadd(queue.keys.delayed, {job_id: due for job_id in ids[start : start + 5000]})
    return ids


def test_a_due_job_is_promoted_to_the_ready_list(queue):
    job_id = queue.enqueue_at({"n": 1}, NOW)
    assert queue.delayed_jobs.promote(now=NOW) == (1, None)
    assert queue.ready_list.peek() == [job_id]
    assert queue.delayed_jobs.size() == 0


def test_a_job_not_yet_due_stays_delayed(queue):
    queue.enqueue_at({"n": 1}, NOW + 60)
    assert queue.delayed_jobs.promote(now=NOW) == (0, NOW + 60)
    assert queue.ready_list.size() == 0


def test_promotion_keeps_sub_second_precision(queue):
    job_id = queue.enqueue_at({"n": 1}, NOW + 0.3)
    assert queue.delayed_jobs.promote(now=NOW + 0.2)[0] == 0
    assert queue.delayed_jobs.promote(now=NOW + 0.31)[0] == 1
    assert queue.ready_list.peek() == [job_id]


def test_a_job_due_exactly_now_is_promoted(queue):
    queue.enqueue_at({"n": 1}, NOW + 0.25)
    assert queue.delayed_jobs.promote(now=NOW + 0.25)[0] == 1


def test_promote_reports_when_the_next_job_is_due(queue):
    queue.enqueue_at({"n": 1}, NOW)
    queue.enqueue_at({"n": 2}, NOW + 1.75)
    assert queue.delayed_jobs.promote(now=NOW + 1) == (1, NOW + 1.75)


def test_one_promote_call_moves_at_most_its_limit(client, queue):
    schedule(client, queue, 2500, NOW)
    assert queue.delayed_jobs.promote(now=NOW)[0] == PROMOTE_BATCH == 1000
    assert queue.ready_list.size() == 1000
    assert queue.delayed_jobs.promote(now=NOW, limit=10)[0] == 10


def test_twenty_thousand_jobs_due_at_once_are_all_promoted(client, queue):
    ids = schedule(client, queue, 20_000, NOW - 5)
    assert queue.delayed_jobs.promote_all(now=NOW) == (20_000, None, NOW)
    assert queue.delayed_jobs.size() == 0
    ready = [job_id.decode() for job_id in client.lrange(queue.keys.ready, 0, -1)]
    assert sorted(ready) == sorted(ids)


def test_promote_all_leaves_jobs_that_are_not_due(client, queue):
    schedule(client, queue, 2100, NOW)
    later = queue.enqueue_at({"n": 1}, NOW + 10)
    assert queue.delayed_jobs.promote_all(now=NOW) == (2100, NOW + 10, NOW)
    assert [m.decode() for m in client.zrange(queue.keys.delayed, 0, -1)] == [later]


def test_promoted_jobs_run_in_the_order_they_were_due(queue):
    ids = [queue.enqueue_at({"n": n}, NOW + n / 10) for n in (3, 1, 2, 0, 4)]
    by_due = [ids[3], ids[1], ids[2], ids[0], ids[4]]
    queue.delayed_jobs.promote_all(now=NOW + 1, limit=2)
    assert queue.ready_list.peek() == by_due


def test_promoted_jobs_queue_behind_jobs_already_ready(queue):
    ready = queue.enqueue({"n": 0})
    delayed = queue.enqueue_at({"n": 1}, NOW)
    queue.delayed_jobs.promote(now=NOW)
    assert queue.ready_list.peek() == [ready, delayed]


def test_scheduling_a_job_due_before_all_others_publishes_a_wakeup(client, queue):
    queue.enqueue_at({"n": 1}, NOW + 60)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(queue.keys.wakeup)
    try:
        wait_for(lambda: client.pubsub_numsub(queue.keys.wakeup)[0][1] == 1)
        queue.enqueue_at({"n": 2}, NOW + 30.5)
        message = wait_for(lambda: pubsub.get_message(timeout=0.1), timeout=5)
        assert float(message["data"]) == NOW + 30.5
    finally:
        pubsub.close()


def test_scheduling_a_job_due_after_another_publishes_nothing(client, queue):
    queue.enqueue_at({"n": 1}, NOW + 30)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(queue.keys.wakeup)
    try:
        wait_for(lambda: client.pubsub_numsub(queue.keys.wakeup)[0][1] == 1)
        queue.enqueue_at({"n": 2}, NOW + 60)
        queue.enqueue_at({"n": 3}, NOW + 0)  # a marker that does publish, sent after
        message = wait_for(lambda: pubsub.get_message(timeout=0.1), timeout=5)
        assert float(message["data"]) == NOW
    finally:
        pubsub.close()


# -- the worker's promoter --------------------------------------------------------------------


@pytest.fixture
def promoter(queue):
    return Promoter(queue.client, [queue.delayed_jobs], resolution=10, worker_id="w")


def test_the_promoter_sleeps_until_the_next_job_is_due_not_the_resolution(promoter, queue):
    queue.enqueue_at({"n": 1}, NOW + 1.5)
    assert promoter.promote(now=NOW) == 1.5
    assert queue.ready_list.size() == 0


def test_the_promoter_moves_a_job_once_it_is_due(promoter, queue):
    job_id = queue.enqueue_at({"n": 1}, NOW + 1.5)
    promoter.promote(now=NOW + 1.5)
    assert queue.ready_list.peek() == [job_id]


def test_with_nothing_delayed_the_promoter_sleeps_its_resolution(promoter):
    assert promoter.promote(now=NOW) == 10


def test_a_job_scheduled_in_the_past_is_promoted_at_once(promoter, queue):
    job_id = queue.enqueue_at({"n": 1}, NOW - 3600)
    assert promoter.promote(now=NOW) == 10
    assert queue.ready_list.peek() == [job_id]


def test_one_promoter_serves_every_queue_of_a_worker(client, prefix):
    first, second = Queue(client, f"{prefix}-a"), Queue(client, f"{prefix}-b")
    promoter = Promoter(client, [first.delayed_jobs, second.delayed_jobs], resolution=10, worker_id="w")
    due = first.enqueue_at({"n": 1}, NOW)
    second.enqueue_at({"n": 2}, NOW + 3)
    assert promoter.promote(now=NOW) == 3  # the earliest of all its queues
    assert (first.ready_list.peek(), second.ready_list.size()) == ([due], 0)


class StartTimes:
    """A delegate that records when each job started (monotonic seconds)."""

    def __init__(self):
        self.started = {}

    def call(self, job):
        self.started[job["n"]] = time.monotonic()


@pytest.fixture
def delegate():
    return StartTimes()


def promoter_sleeping(server):
    """Wait until the promoter has subscribed to the wake-up channel (it then promotes and sleeps)."""
    wait_for(lambda: server.client.pubsub_numsub(server.keys.wakeup)[0][1] == 1, message="promoter subscribed")


def test_a_job_another_client_schedules_wakes_a_sleeping_promoter(make_server, delegate, client, prefix):
    """The promoter sleeps up to its resolution (10 s here); a job another process schedules ahead
    of every other wakes it through the queue's channel, so it runs on time."""
    server = make_server(delegate, resolution=10)
    other = clone(client)  # a separate connection pool, as another process would have
    try:
        server.start()
        promoter_sleeping(server)
        enqueued = time.monotonic()
        Queue(other, prefix=prefix).enqueue_at({"n": 1}, time.time() + 0.2)
        wait_for(lambda: 1 in delegate.started, timeout=5)
        assert 0.15 <= delegate.started[1] - enqueued <= 2
    finally:
        other.close()
