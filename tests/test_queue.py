"""``Queue``: the client-side face of a queue (enqueue and inspect)."""

import datetime as dt
import re
import time

import pytest

from gjobs import JSONCoder, Queue
from gjobs.processing_list import ProcessingList
from gjobs.queue import ENQUEUE_CHUNK

NOW = 1_700_000_000.0


def keyspace(client, prefix):
    return client.keys(f"*{prefix}*")


def test_enqueue_returns_a_fresh_hex_id_per_job(queue):
    ids = [queue.enqueue({"n": n}) for n in range(3)]
    assert len(set(ids)) == 3
    assert all(re.fullmatch(r"[0-9a-f]{32}", job_id) for job_id in ids)


def test_enqueue_stores_the_payload_under_the_id(queue):
    job_id = queue.enqueue({"n": 1})
    assert JSONCoder().load(queue.job_store.get(job_id)) == {"n": 1}


def test_ready_jobs_run_first_in_first_out(queue):
    ids = [queue.enqueue({"n": n}) for n in range(3)]
    assert queue.ready_list.peek() == ids


def test_enqueue_at_schedules_the_job_at_that_time(queue, client):
    job_id = queue.enqueue_at({"n": 1}, NOW + 0.5)
    assert client.zscore(queue.keys.delayed, job_id) == NOW + 0.5
    assert queue.ready_list.size() == 0


def test_enqueue_at_overrides_the_jobs_own_scheduled_at(queue, client):
    job_id = queue.enqueue_at({"scheduled_at": NOW}, NOW + 60)
    assert client.zscore(queue.keys.delayed, job_id) == NOW + 60


def test_enqueue_at_needs_a_time(queue, client, prefix):
    with pytest.raises(ValueError):
        queue.enqueue_at({"n": 1}, None)
    assert keyspace(client, prefix) == []


def test_enqueue_in_schedules_the_job_that_many_seconds_ahead(queue, client):
    before = time.time()
    job_id = queue.enqueue_in({"n": 1}, 30)
    due = client.zscore(queue.keys.delayed, job_id)
    assert before + 30 <= due < before + 31


def test_enqueue_in_takes_a_timedelta(queue, client):
    before = time.time()
    job_id = queue.enqueue_in({"n": 1}, dt.timedelta(minutes=1))
    assert before + 60 <= client.zscore(queue.keys.delayed, job_id) < before + 61


@pytest.mark.parametrize("delay", ["10", None, float("nan"), True])
def test_enqueue_in_refuses_a_delay_that_is_not_a_number(queue, client, prefix, delay):
    with pytest.raises(TypeError):
        queue.enqueue_in({"n": 1}, delay)
    assert keyspace(client, prefix) == []


def test_enqueue_many_returns_ids_in_order_and_keeps_that_order(queue):
    ids = queue.enqueue_many({"n": n} for n in range(5))
    assert queue.ready_list.peek() == ids


def test_enqueue_many_sends_jobs_now_and_later_to_their_places(queue):
    ids = queue.enqueue_many([{"n": 0}, {"n": 1, "scheduled_at": NOW + 60}, {"n": 2}])
    assert queue.ready_list.peek() == [ids[0], ids[2]]
    assert queue.delayed_jobs.size() == 1


def test_enqueue_many_writes_more_jobs_than_one_chunk(queue):
    count = ENQUEUE_CHUNK * 2 + 7
    ids = queue.enqueue_many({"n": n} for n in range(count))
    assert len(ids) == count
    assert queue.ready_list.size() == count
    assert queue.job_store.size() == count


def test_enqueue_many_writes_nothing_when_one_job_is_invalid(queue, client, prefix):
    jobs = [{"n": 0}, {"n": 1}, {"n": 2, "scheduled_at": "soon"}]
    with pytest.raises(ValueError, match="index 2"):
        queue.enqueue_many(jobs)
    assert keyspace(client, prefix) == []


def test_enqueue_many_of_nothing_writes_nothing(queue, client, prefix):
    assert queue.enqueue_many([]) == []
    assert keyspace(client, prefix) == []


def test_stats_count_ready_delayed_in_progress_and_completed(queue, client):
    queue.enqueue_many([{"n": n} for n in range(4)])
    queue.enqueue_at({"n": 9}, NOW + 3600)
    queue.registry.beat("w1", NOW, {"host": "h"})
    worker = ProcessingList(client, queue.keys, "w1")
    jobs, _, _, _ = worker.fetch(2)
    worker.complete([jobs[0][0]])
    stats = queue.stats()
    assert {k: stats[k] for k in ("ready", "delayed", "in_progress", "completed", "dead", "missing")} == {
        "ready": 2, "delayed": 1, "in_progress": 1, "completed": 1, "dead": 0, "missing": 0,
    }
    assert [(w["id"], w["pending"], w["host"]) for w in stats["workers"]] == [("w1", 1, "h")]


def test_stats_of_an_empty_queue_are_zero(queue, prefix):
    stats = queue.stats()
    assert stats["prefix"] == prefix
    assert (stats["ready"], stats["delayed"], stats["in_progress"], stats["completed"]) == (0, 0, 0, 0)
    assert stats["workers"] == []


def test_from_url_connects_to_that_redis(redis_process, prefix):
    queue = Queue.from_url(redis_process.url, prefix=prefix)
    try:
        queue.enqueue({"n": 1})
        assert queue.ready_list.size() == 1
    finally:
        queue.client.close()


@pytest.mark.parametrize("chunk", [0, 2001, 1.5, True])
def test_enqueue_many_refuses_a_chunk_lua_could_not_unpack(client, prefix, chunk):
    queue = Queue(client, prefix)
    with pytest.raises(ValueError, match="chunk"):
        queue.enqueue_many([{"n": 1}], chunk=chunk)
    assert queue.ready_list.size() == 0


def test_enqueue_many_with_the_largest_chunk_stores_every_job(client, prefix):
    queue = Queue(client, prefix)
    ids = queue.enqueue_many([{"n": n} for n in range(2500)], chunk=2000)
    assert len(ids) == 2500 and queue.ready_list.size() == 2500
