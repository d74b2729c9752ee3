"""The dead set: what it keeps, how it is bounded, and how an operator inspects and repairs it,
from any process (gevent or not)."""

import json
import logging
import subprocess
import sys
import time

import pytest

from gjobs import Queue, Server
from gjobs.processing_list import ProcessingList
from tests.fault_delegates import ROOT
from tests.helpers import wait_for


def bury(queue, job, when=None, error=None):
    """Enqueue ``job`` and kill it as a worker does: fetched (one attempt), then buried."""
    job_id = queue.enqueue(job)
    worker = ProcessingList(queue.client, queue.keys, "test-worker")
    jobs, _, _, _ = worker.fetch(1)
    assert jobs[0][0] == job_id
    error = error or {"type": "RuntimeError", "message": f"job {job['n']} failed", "traceback": "", "worker": "w"}
    assert worker.bury(job_id, time.time() if when is None else when, error) == 1
    return job_id


def raises(job):
    raise RuntimeError(f"job {job['n']} failed")


def test_dead_lists_entries_most_recent_first(queue):
    now = time.time()
    older = bury(queue, {"n": 1}, when=now - 10)
    newer = bury(queue, {"n": 2}, when=now)
    entries = queue.dead()
    assert [entry.id for entry in entries] == [newer, older]
    assert entries[0].job == {"n": 2}
    assert entries[0].attempts == 1
    assert entries[0].error["message"] == "job 2 failed"
    assert entries[0].failed_at == pytest.approx(now)


def test_dead_pages_with_limit_and_offset(queue):
    now = time.time()
    ids = [bury(queue, {"n": n}, when=now + n) for n in range(5)]
    assert [entry.id for entry in queue.dead(limit=2, offset=1)] == [ids[3], ids[2]]


def test_retry_dead_requeues_every_dead_job_with_attempts_reset(queue):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    assert queue.retry_dead() == 3
    assert queue.dead() == []
    assert sorted(queue.ready_list.peek()) == sorted(ids)
    assert queue.job_store.attempts_many(ids) == [0, 0, 0]
    assert queue.client.hlen(queue.keys.dead_errors) == 0


def test_retry_dead_with_ids_requeues_only_those(queue):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    assert queue.retry_dead([ids[1], "not-dead"]) == 1
    assert queue.ready_list.peek() == [ids[1]]
    assert {entry.id for entry in queue.dead()} == {ids[0], ids[2]}


def test_retried_dead_job_gets_all_its_attempts_again(client, prefix, queue):
    calls = []

    def fails_then_succeeds(job):
        calls.append(job)
        if not job.get("fixed") and len(calls) <= 2:
            raise RuntimeError("broken")

    server = Server(fails_then_succeeds, client, prefix=prefix, heartbeat_interval=0.5,
                    max_attempts=2, backoff=lambda attempt: 0)
    server.start()
    try:
        job_id = queue.enqueue({"n": 1})
        wait_for(lambda: queue.dead_set.size() == 1, message="the job in the dead set")
        assert queue.dead()[0].attempts == 2
        queue.retry_dead([job_id])
        wait_for(lambda: queue.completed_count() == 1, message="the retried job to complete")
    finally:
        server.stop(timeout=1)
    assert len(calls) == 3
    assert queue.job_store.get(job_id) is None


def test_purge_dead_deletes_payload_error_and_attempts(queue):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    assert queue.purge_dead() == 3
    assert queue.dead() == []
    assert queue.job_store.get_many(ids) == [None, None, None]
    assert queue.job_store.attempts_many(ids) == [0, 0, 0]
    assert queue.client.hlen(queue.keys.dead_errors) == 0
    assert queue.ready_list.size() == 0


def test_purge_dead_with_ids_deletes_only_those(queue):
    ids = [bury(queue, {"n": n}) for n in range(3)]
    assert queue.purge_dead([ids[0], "not-dead"]) == 1
    assert {entry.id for entry in queue.dead()} == {ids[1], ids[2]}
    assert queue.job_store.get(ids[1]) is not None


def test_more_dead_jobs_than_one_batch_are_all_retried(queue):
    now = time.time()
    entries = [(f"id{n}", now, json.dumps({"n": n}).encode()) for n in range(1200)]
    queue.delayed_jobs.add(entries)  # stored; then moved to the dead set directly, in bulk
    queue.client.zadd(queue.keys.dead, {job_id: now for job_id, _, _ in entries})
    queue.client.delete(queue.keys.delayed)
    assert queue.retry_dead() == 1200
    assert queue.ready_list.size() == 1200


def test_dead_set_is_trimmed_to_dead_max_and_the_trim_is_logged(client, prefix, queue, caplog):
    server = Server(raises, client, prefix=prefix, heartbeat_interval=0.5, max_attempts=1, dead_max=3)
    server.start()
    try:
        for n in range(5):  # one at a time, so they die in order
            job_id = queue.enqueue({"n": n})
            wait_for(lambda job_id=job_id: queue.client.zscore(queue.keys.dead, job_id), message="a dead job")
        wait_for(lambda: queue.dead_set.size() == 3, message="the dead set trimmed")
    finally:
        server.stop(timeout=1)
    assert [entry.job["n"] for entry in queue.dead()] == [4, 3, 2]
    assert queue.job_store.size() == 3  # the trimmed jobs' payloads are gone too
    trims = [r for r in caplog.records if "trimmed" in r.getMessage()]
    assert trims and all(r.levelno == logging.WARNING for r in trims)


def test_dead_set_drops_jobs_older_than_dead_max_age(client, prefix, queue, caplog):
    old = bury(queue, {"n": 0}, when=time.time() - 3600)
    server = Server(raises, client, prefix=prefix, heartbeat_interval=0.5, max_attempts=1, dead_max_age=60)
    server.start()
    try:
        queue.enqueue({"n": 1})
        wait_for(lambda: [entry.job["n"] for entry in queue.dead()] == [1], message="the old job trimmed")
    finally:
        server.stop(timeout=1)
    assert queue.job_store.get(old) is None
    assert any("trimmed" in r.getMessage() for r in caplog.records)


def test_trim_by_age_takes_the_time_as_a_parameter(queue):
    now = 1_000_000.0
    old = bury(queue, {"n": 0}, when=now - 100)
    young = bury(queue, {"n": 1}, when=now - 10)
    assert queue.dead_set.trim(max_count=None, max_age=50, now=now) == 1
    assert [entry.id for entry in queue.dead()] == [young]
    assert queue.job_store.get(old) is None


def test_trim_with_no_bounds_keeps_everything(queue):
    bury(queue, {"n": 0}, when=1.0)
    assert queue.dead_set.trim(max_count=None, max_age=None) == 0
    assert queue.dead_set.size() == 1


UNPATCHED_SCRIPT = r"""
import json, sys
import redis
from gevent import monkey
import gjobs

queue = gjobs.Queue(redis.Redis(port=int(sys.argv[1])), sys.argv[2])
entries = queue.dead()
result = {
    "patched": monkey.is_module_patched("socket"),
    "dead": [[e.id, e.job, e.attempts, e.error["type"]] for e in entries],
    "retried": queue.retry_dead([sys.argv[3]]),
    "purged": queue.purge_dead(),
    "left": len(queue.dead()),
}
print(json.dumps(result))
"""


def test_dead_set_is_inspected_and_repaired_from_a_process_without_gevent(redis_process, real_client, prefix):
    queue = Queue(real_client, prefix)
    first = bury(queue, {"n": 1}, when=time.time() - 1)
    second = bury(queue, {"n": 2})
    output = subprocess.run(
        [sys.executable, "-c", UNPATCHED_SCRIPT, str(redis_process.port), prefix, first],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    result = json.loads(output)
    assert result == {
        "patched": False,
        "dead": [[second, {"n": 2}, 1, "RuntimeError"], [first, {"n": 1}, 1, "RuntimeError"]],
        "retried": 1,
        "purged": 1,
        "left": 0,
    }
    assert queue.ready_list.peek() == [first]
    assert queue.job_store.get(second) is None


def test_a_dead_job_purged_between_the_two_reads_of_a_listing_is_left_out(queue):
    """Listing reads the ids, then their payloads and errors: a trim or purge in between (by a
    worker) must not yield an entry without its job."""
    kept = bury(queue, {"n": 0})
    gone = bury(queue, {"n": 1})
    pairs = queue.client.zrevrange(queue.keys.dead, 0, -1, withscores=True)
    queue.purge_dead([gone])
    assert [entry.id for entry in queue.dead_set._describe(pairs)] == [kept]
    assert queue.dead_set.get(gone) is None
