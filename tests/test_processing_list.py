"""Processing lists: taking jobs, settling them, and recovering those of dead workers."""

import time

import gevent
import pytest

from gjobs import Buffer, Queue, Server, scripts
from gjobs.connection import clone
from gjobs.processing_list import ProcessingList
from gjobs.worker_registry import MOVE_BATCH

NOW = 1_700_000_000.0
INTERVAL = 5.0


@pytest.fixture
def worker(client, queue):
    return ProcessingList(client, queue.keys, "w1")


def ids_of(jobs):
    return [job_id for job_id, _, _ in jobs]


def ready_ids(client, queue):
    return [i.decode() for i in client.lrange(queue.keys.ready, 0, -1)]


def dead_worker(client, queue, name, count, beat=NOW):
    """A worker that beat at ``beat``, took ``count`` jobs, and never beat again."""
    queue.enqueue_many([{"n": n} for n in range(count)])
    queue.registry.beat(name, beat, {"host": "gone"})
    taken = []
    while len(taken) < count:
        jobs, _, _, _ = ProcessingList(client, queue.keys, name).fetch(min(100, count - len(taken)))
        taken += ids_of(jobs)
    return taken


def recoverer(client, prefix, name):
    return Server(Buffer(), client, prefix=prefix, heartbeat_interval=INTERVAL, worker_id=name)


# -- fetch ------------------------------------------------------------------------------------


def test_fetch_takes_the_oldest_ready_jobs_with_their_payloads(queue, worker):
    ids = queue.enqueue_many([{"n": n} for n in range(3)])
    jobs, missing, _, _ = worker.fetch(2)
    assert ids_of(jobs) == ids[:2]
    assert [queue.coder.load(payload) for _, payload, _ in jobs] == [{"n": 0}, {"n": 1}]
    assert missing == []


def test_fetch_takes_at_most_the_count_it_is_asked_for(queue, worker):
    queue.enqueue_many([{"n": n} for n in range(5)])
    worker.fetch(2)
    assert (worker.size(), queue.ready_list.size()) == (2, 3)


def test_fetch_of_zero_takes_nothing(queue, worker):
    queue.enqueue({"n": 1})
    assert worker.fetch(0)[:2] == ([], [])
    assert queue.ready_list.size() == 1


def test_fetch_counts_an_attempt_when_the_job_is_handed_out(queue, worker):
    job_id = queue.enqueue({"n": 1})
    jobs, _, _, _ = worker.fetch(1)
    assert jobs[0][2] == 1
    assert queue.job_store.attempts(job_id) == 1


def test_fetched_ids_are_kept_in_the_workers_pending_list(queue, worker):
    ids = queue.enqueue_many([{"n": n} for n in range(2)])
    worker.fetch(2)
    assert sorted(worker.ids()) == sorted(ids)


def test_an_id_without_a_payload_is_dropped_and_counted(client, queue, worker):
    client.lpush(queue.keys.ready, "ghost")
    jobs, missing, _, _ = worker.fetch(1)
    assert (jobs, [m.decode() for m in missing]) == ([], ["ghost"])
    assert worker.size() == 0
    assert queue.stats()["missing"] == 1


def test_an_id_whose_job_finished_elsewhere_is_dropped_quietly(client, queue, worker):
    """A worker frozen while holding an id finds, when it thaws, that others ran the job: its
    payload is gone because it finished, not because it was lost."""
    client.lpush(queue.keys.ready, "done-elsewhere")
    client.hset(queue.keys.finished_old, "done-elsewhere", repr(NOW))
    jobs, missing, _, _ = worker.fetch(1)
    assert (jobs, missing, worker.size(), queue.stats()["missing"]) == ([], [], 0, 0)


def test_wait_returns_none_after_its_timeout_when_nothing_is_ready(worker):
    started = time.monotonic()
    assert worker.wait(0.2) is None
    assert 0.15 <= time.monotonic() - started < 1.0


def test_wait_moves_one_ready_id_into_the_pending_list(queue, worker):
    ids = queue.enqueue_many([{"n": 0}, {"n": 1}])
    assert worker.wait(1) == ids[0]
    assert worker.ids() == [ids[0]]
    assert queue.ready_list.size() == 1


def test_wait_returns_a_job_enqueued_while_it_blocks(client, prefix, worker):
    other = Queue(clone(client), prefix=prefix)
    waiter = gevent.spawn(worker.wait, 5)
    job_id = other.enqueue({"n": 1})
    assert waiter.get(timeout=5) == job_id
    other.client.close()


# -- complete ---------------------------------------------------------------------------------


def test_complete_removes_the_job_and_counts_it_in_one_call(queue, worker):
    ids = queue.enqueue_many([{"n": n} for n in range(3)])
    worker.fetch(3)
    assert worker.complete(ids[:2]) == 2
    assert worker.ids() == [ids[2]]
    assert queue.completed_count() == 2
    assert queue.job_store.get(ids[0]) is None
    assert queue.job_store.attempts(ids[0]) == 0
    assert queue.job_store.size() == 1
    assert queue.job(ids[0]).state == "succeeded"


def test_a_tracked_jobs_record_keeps_its_run_time_and_attempts(queue, worker):
    job_id = queue.enqueue({"n": 1})
    worker.fetch(1)
    assert worker.complete([job_id], tracked={job_id: 2.5}) == 1
    info = queue.job(job_id)
    assert (info.state, info.attempts, info.worker, info.ran_for) == ("succeeded", 1, "w1", 2.5)


def test_complete_keeps_nothing_of_a_job_when_no_finished_jobs_are_kept(client, queue):
    worker = ProcessingList(client, queue.keys, "w1", keep_finished=0)
    job_id = queue.enqueue({"n": 1})
    worker.fetch(1)
    assert worker.complete([job_id]) == 1
    assert queue.job_store.attempts(job_id) == 0 and queue.job(job_id).state == "unknown"


def test_completing_an_id_no_longer_pending_does_nothing(queue, worker):
    job_id = queue.enqueue({"n": 1})
    worker.fetch(1)
    worker.requeue([job_id])  # as a recovery would have done
    assert worker.complete([job_id]) == 0
    assert queue.completed_count() == 0
    assert queue.job_store.get(job_id) is not None
    assert queue.ready_list.peek() == [job_id]


def test_completing_another_workers_id_does_nothing(client, queue, worker):
    job_id = queue.enqueue({"n": 1})
    ProcessingList(client, queue.keys, "w2").fetch(1)
    assert worker.complete([job_id]) == 0
    assert queue.completed_count() == 0
    assert queue.job_store.get(job_id) is not None


def test_completing_a_batch_counts_only_the_ids_still_pending(queue, worker):
    ids = queue.enqueue_many([{"n": n} for n in range(3)])
    worker.fetch(3)
    assert worker.complete([ids[0], "unknown", ids[2], ids[0]]) == 2
    assert queue.completed_count() == 2


def test_completing_the_oldest_of_many_pending_jobs_is_quick(client, queue, worker):
    # The oldest id sits at the tail, where the scan for it starts.
    ids = queue.enqueue_many([{"n": n} for n in range(2000)])
    for _ in range(20):
        worker.fetch(100)
    started = time.monotonic()
    for job_id in ids[:50]:
        worker.complete([job_id])
    assert worker.size() == 1950
    assert time.monotonic() - started < 2.0


# -- the registry -----------------------------------------------------------------------------


def test_a_beat_registers_the_worker_with_its_info(queue):
    assert queue.registry.beat("w1", NOW, {"host": "h", "pid": 7}) is True
    assert queue.registry.workers() == [{"host": "h", "pid": 7, "id": "w1", "last_beat": NOW}]


def test_a_later_beat_only_moves_the_last_beat(queue):
    queue.registry.beat("w1", NOW, {})
    assert queue.registry.beat("w1", NOW + 5, {}) is False
    assert queue.registry.workers()[0]["last_beat"] == NOW + 5


def test_stale_lists_only_workers_whose_last_beat_is_older(queue):
    queue.registry.beat("old", NOW - 20, {})
    queue.registry.beat("new", NOW, {})
    assert queue.registry.stale(10, now=NOW) == (NOW, ["old"])


# -- recovery ---------------------------------------------------------------------------------


def test_the_jobs_of_a_stale_worker_are_requeued(client, queue, prefix):
    taken = dead_worker(client, queue, "dead", 5)
    assert recoverer(client, prefix, "me").recover(now=NOW + 2 * INTERVAL + 1) == 5
    assert sorted(ready_ids(client, queue)) == sorted(taken)
    assert client.exists(queue.keys.pending("dead")) == 0


def test_a_recovered_worker_leaves_the_registry(client, queue, prefix):
    dead_worker(client, queue, "dead", 2)
    recoverer(client, prefix, "me").recover(now=NOW + 2 * INTERVAL + 1)
    assert queue.registry.workers() == []
    assert client.hlen(queue.keys.workers_info) == 0


def test_a_worker_is_stale_only_after_two_heartbeat_intervals(client, queue, prefix):
    dead_worker(client, queue, "late", 3)
    server = recoverer(client, prefix, "me")
    assert server.recover(now=NOW + 2 * INTERVAL - 0.5) == 0
    assert queue.ready_list.size() == 0
    assert server.recover(now=NOW + 2 * INTERVAL + 0.5) == 3


def test_a_live_workers_jobs_are_not_recovered(client, queue, prefix):
    taken = dead_worker(client, queue, "alive", 3, beat=NOW + 100)
    assert recoverer(client, prefix, "me").recover(now=NOW + 101) == 0
    assert sorted(ProcessingList(client, queue.keys, "alive").ids()) == sorted(taken)
    assert [w["id"] for w in queue.registry.workers()] == ["alive"]


def test_a_worker_that_beats_again_before_recovery_keeps_its_jobs(client, queue, prefix):
    dead_worker(client, queue, "revived", 3)
    _, stale = queue.registry.stale(0, now=NOW + 1)
    queue.registry.beat("revived", NOW + 30, {})  # between the stale listing and the recovery
    assert queue.registry.recover(stale[0], NOW + 1, 0, NOW + 30, {}) is None
    assert ProcessingList(client, queue.keys, "revived").size() == 3


def test_a_server_never_recovers_its_own_jobs(client, queue, prefix):
    dead_worker(client, queue, "me", 2)
    assert recoverer(client, prefix, "me").recover(now=NOW + 1000) == 0


def test_a_long_pending_list_is_recovered_in_several_batches(client, queue, prefix):
    count = 2 * MOVE_BATCH + 234
    taken = dead_worker(client, queue, "dead", count)
    assert recoverer(client, prefix, "me").recover(now=NOW + 100) == count
    ready = ready_ids(client, queue)
    assert len(ready) == count and set(ready) == set(taken)
    assert queue.registry.workers() == []


def test_recovery_reads_the_registry_not_the_keyspace(client, queue, prefix):
    # A pending list whose worker never registered is invisible to recovery: nothing scans for it.
    ProcessingList(client, queue.keys, "unregistered")
    queue.enqueue({"n": 1})
    ProcessingList(client, queue.keys, "unregistered").fetch(1)
    assert recoverer(client, prefix, "me").recover(now=NOW + 100) == 0
    assert client.llen(queue.keys.pending("unregistered")) == 1


def test_recovery_sends_no_keyspace_command_to_redis(real_client, prefix):
    queue = Queue(real_client, prefix=prefix)
    dead_worker(real_client, queue, "dead", 600)
    real_client.config_resetstat()
    assert recoverer(real_client, prefix, "me").recover(now=NOW + 100) == 600
    commands = real_client.info("commandstats")
    assert not {"cmdstat_scan", "cmdstat_keys"} & set(commands), sorted(commands)


def test_two_servers_recovering_the_same_dead_worker_never_duplicate_its_jobs(client, queue, prefix):
    count = 3 * MOVE_BATCH + 77
    taken = dead_worker(client, queue, "dead", count)
    clients = [client, clone(client)]
    servers = [recoverer(c, prefix, f"rescuer-{i}") for i, c in enumerate(clients)]
    try:
        runs = [gevent.spawn(server.recover, now=NOW + 100) for server in servers]
        gevent.joinall(runs, raise_error=True)
        assert sum(run.value for run in runs) == count
        ready = ready_ids(client, queue)
        assert sorted(ready) == sorted(taken)  # every id exactly once
        assert queue.registry.workers() == []
    finally:
        clients[1].close()


def test_interleaved_recovery_batches_never_duplicate_jobs(client, queue, prefix):
    count = 3 * MOVE_BATCH + 77
    taken = dead_worker(client, queue, "dead", count)
    # Two recoverers with their own script objects, taking turns one batch (one call) at a time.
    recovers = [scripts.register(client, "recover") for _ in range(2)]
    keys = [queue.keys.workers, queue.keys.workers_info, queue.keys.pending("dead"), queue.keys.ready,
            queue.keys.attempts, queue.keys.dead, queue.keys.dead_errors]
    args = ["dead", NOW + 1, 0, MOVE_BATCH, NOW, "{}"]
    handled, calls, done = 0, 0, 0
    while not done:
        moved, _, done = recovers[calls % 2](keys=keys, args=args)
        handled += moved
        calls += 1
    assert calls == 4
    assert handled == count
    assert sorted(ready_ids(client, queue)) == sorted(taken)
    assert recovers[calls % 2](keys=keys, args=args) == [0, 0, 1]  # nothing left for the other one
