"""Single enqueues of concurrent callers written together: each caller still gets its own id, its
own error, and returns only once Redis holds its job. On real Redis and fakeredis alike, unless a
test needs the real server (connections, a subprocess)."""

import json
import os
import subprocess
import sys
import time

import gevent
import gevent.event
import pytest
import redis

from gjobs import Queue, connect
from gjobs.batch_enqueue import ALONE_BYTES, Refused
from gjobs.keys import text
from tests.helpers import wait_for
from tests.topologies import Cluster, available

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Held:
    """Holds the ``number``-th script call of ``queue``'s batches until :meth:`release`, before
    it reaches Redis (or, with ``after``, once Redis ran it): callers who enqueue meanwhile
    queue behind it. Records the size of every call in :attr:`sizes`."""

    def __init__(self, queue, number=1, after=False):
        self.coalescer = queue._batch._coalescer
        self.sizes = []
        self.inside = gevent.event.Event()
        self._release = gevent.event.Event()
        send = self.coalescer._send

        def held(batch):
            self.sizes.append(len(batch))
            if len(self.sizes) != number:
                return send(batch)
            outcome = send(batch) if after else None
            self.inside.set()
            self._release.wait()
            return outcome if after else send(batch)

        self.coalescer._send = held

    def queue_behind(self, *calls):
        """Spawn each ``(function, *args)`` in turn, each queued behind the held call."""
        spawned = []
        for call in calls:
            before = self.coalescer.waiting
            spawned.append(gevent.spawn(*call))
            wait_for(lambda before=before: self.coalescer.waiting == before + 1, message=f"{call!r} queued")
        return spawned

    def release(self):
        self._release.set()


def job(n, **extra):
    return {"task": "t", "args": [n], **extra}


def payloads(client, queue):
    """id -> decoded job, of every job stored."""
    return {text(k): json.loads(v) for k, v in client.hgetall(queue.keys.jobs).items()}


def ready_ids(client, queue):
    """The ready ids, the one to run first first."""
    return [text(i) for i in reversed(client.lrange(queue.keys.ready, 0, -1))]


def test_concurrent_callers_get_distinct_ids_and_every_job_is_stored_once(queue, client):
    ids = []

    def caller(g):
        for n in range(10):
            ids.append((queue.enqueue(job(g * 10 + n)), g * 10 + n))

    gevent.joinall([gevent.spawn(caller, g) for g in range(100)], raise_error=True)
    assert len({job_id for job_id, _ in ids}) == 1000
    assert sorted(ready_ids(client, queue)) == sorted(job_id for job_id, _ in ids)
    stored = payloads(client, queue)
    assert {job_id: stored[job_id]["args"][0] for job_id, _ in ids} == dict(ids)


def test_callers_who_enqueue_while_a_call_is_under_way_share_the_next_calls(queue, client):
    held = Held(queue)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    callers = held.queue_behind(*[(queue.enqueue, job(n)) for n in range(1, 41)])
    held.release()
    gevent.joinall([first, *callers], raise_error=True)
    assert held.sizes[0] == 1 and sum(held.sizes) == 41
    assert len(held.sizes) <= 3
    assert client.llen(queue.keys.ready) == 41


def test_jobs_of_queued_callers_run_in_the_order_they_queued(queue, client):
    held = Held(queue)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    callers = held.queue_behind(*[(queue.enqueue, job(n)) for n in range(1, 8)])
    held.release()
    gevent.joinall([first, *callers], raise_error=True)
    assert ready_ids(client, queue) == [first.value] + [g.value for g in callers]


def test_a_batch_mixing_ready_and_delayed_jobs_puts_each_in_its_place(queue, client):
    held = Held(queue)
    at = time.time() + 3600
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    now, later, soon, also_now = held.queue_behind(
        (queue.enqueue, job(1)), (queue.enqueue_at, job(2), at), (queue.enqueue_in, job(3), 60),
        (queue.enqueue, job(4)),
    )
    held.release()
    gevent.joinall([first, now, later, soon, also_now], raise_error=True)
    assert ready_ids(client, queue) == [first.value, now.value, also_now.value]
    scores = dict((text(k), v) for k, v in client.zrange(queue.keys.delayed, 0, -1, withscores=True))
    assert scores[later.value] == pytest.approx(at, abs=0.001)
    assert 50 < scores[soon.value] - float(client.time()[0]) <= 61
    assert set(payloads(client, queue)) == {g.value for g in (first, now, later, soon, also_now)}


def test_an_invalid_job_fails_its_own_caller_before_joining_a_batch(queue, client):
    held = Held(queue)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    (good,) = held.queue_behind((queue.enqueue, job(1)))
    with pytest.raises(TypeError, match="timeout"):
        queue.enqueue(job(2, timeout="ten"))  # raises here and now: it never queued
    assert held.coalescer.waiting == 1
    held.release()
    gevent.joinall([first, good], raise_error=True)
    assert set(payloads(client, queue)) == {first.value, good.value}


def test_a_job_redis_refuses_fails_its_own_caller_only(queue, client):
    held = Held(queue)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    bad = queue.prepare(job(1))
    bad = (bad[0], "not-a-time", bad[2])  # past the checks a producer makes: Redis alone refuses it
    before, refused, after = held.queue_behind(
        (queue.enqueue, job(2)), (queue._batch.add, bad), (queue.enqueue, job(3)),
    )
    held.release()
    gevent.joinall([first, before, refused, after])
    assert isinstance(refused.exception, Refused)
    assert [g.successful() for g in (first, before, after)] == [True, True, True]
    assert set(payloads(client, queue)) == {first.value, before.value, after.value}
    assert ready_ids(client, queue) == [first.value, before.value, after.value]


@pytest.mark.parametrize("broken", ["jobs", "ready", "delayed"])
def test_a_redis_error_fails_exactly_the_callers_of_its_call_and_writes_none_of_their_jobs(queue, client, broken):
    held = Held(queue, after=True)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()  # stored: Redis ran it
    # Callers whose jobs all go to the broken key (every key, for the job hash).
    now = [(queue.enqueue, job(n)) for n in range(1, 4)] if broken != "delayed" else []
    later = [(queue.enqueue_in, job(n), 60) for n in range(4, 6)] if broken != "ready" else []
    callers = held.queue_behind(*now, *later)
    key = getattr(queue.keys, broken)
    saved = client.dump(key)
    client.delete(key)
    client.set(key, "not what it should be")  # every call from now on fails in Redis
    held.release()
    gevent.joinall([first, *callers])
    assert first.successful()
    assert all(isinstance(g.exception, redis.ResponseError) for g in callers)
    assert all("WRONGTYPE" in str(g.exception) for g in callers)
    client.delete(key)
    if saved is not None:
        client.restore(key, 0, saved)
    assert set(payloads(client, queue)) == {first.value}  # not one payload of theirs
    assert ready_ids(client, queue) == [first.value] and client.zcard(queue.keys.delayed) == 0


def test_a_script_call_whose_ids_and_payloads_do_not_match_writes_nothing(queue, client):
    with pytest.raises(redis.ResponseError, match="do not match"):
        queue._batch._script(keys=queue._batch._keys, args=[queue.keys.wakeup, "a b", "", b"only one"])
    assert payloads(client, queue) == {} and ready_ids(client, queue) == []


def test_a_caller_interrupted_while_queued_writes_nothing(queue, client):
    held = Held(queue)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    stays, leaves = held.queue_behind((queue.enqueue, job(1)), (queue.enqueue, job(2)))
    leaves.kill(gevent.Timeout())
    held.release()
    gevent.joinall([first, stays], raise_error=True)
    assert sorted(j["args"][0] for j in payloads(client, queue).values()) == [0, 1]


def test_a_job_too_large_to_share_a_call_is_written_by_one_of_its_own_at_once(queue, client):
    held = Held(queue)
    first = gevent.spawn(queue.enqueue, job(0))
    held.inside.wait()
    large = queue.enqueue(job(1, blob="x" * (ALONE_BYTES + 1)))  # returns while the batch is held
    assert list(payloads(client, queue)) == [large]
    held.release()
    first.join()


def test_a_lone_enqueue_goes_out_at_once_alone(queue, client):
    """With nobody else enqueueing, the call is sent at once: no wait, not even a yield before
    it goes out (a greenlet ready to run has not run when the script call starts)."""
    witness, seen = [], []
    gevent.spawn(witness.append, "ran")
    send = queue._batch._coalescer._send
    queue._batch._coalescer._send = lambda batch: seen.append((len(batch), list(witness))) or send(batch)
    job_id = queue.enqueue(job(0))
    assert seen == [(1, [])]
    assert ready_ids(client, queue) == [job_id]


def test_a_hundred_concurrent_callers_use_few_connections(redis_process, prefix):
    client = redis.Redis(port=redis_process.port, host="127.0.0.1", client_name=f"c-{prefix}")
    monitor = redis.Redis(port=redis_process.port, host="127.0.0.1")
    queue = Queue(client, prefix)
    try:
        def caller(g):
            for n in range(20):
                queue.enqueue(job(n))

        gevent.joinall([gevent.spawn(caller, g) for g in range(100)], raise_error=True)
        opened = [c for c in monitor.client_list() if c.get("name") == f"c-{prefix}"]
        assert client.llen(queue.keys.ready) == 2000
        assert len(opened) <= 2
    finally:
        client.close()
        monitor.close()


def test_a_queue_built_per_call_gives_its_connection_back(real_client, prefix):
    def request(n):
        Queue(real_client, prefix).enqueue(job(n))  # a queue per request, never closed

    # 50 at once: within the pool's limit, as the same requests without coalescing would be.
    for _ in range(4):
        gevent.joinall([gevent.spawn(request, n) for n in range(50)], raise_error=True)
    assert real_client.llen(Queue(real_client, prefix).keys.ready) == 200
    assert len(real_client.connection_pool._in_use_connections) == 0


def test_close_closes_the_connections_concurrent_callers_used(redis_process, prefix):
    queue = Queue.from_url(f"{redis_process.url}?client_name=c-{prefix}", prefix)
    monitor = redis.Redis(port=redis_process.port, host="127.0.0.1")

    def named():
        return [c for c in monitor.client_list() if c.get("name") == f"c-{prefix}"]

    gevent.joinall([gevent.spawn(queue.enqueue, job(n)) for n in range(100)], raise_error=True)
    assert named()
    queue.close()
    wait_for(lambda: not named(), message="the queue's connections closed")
    monitor.close()


THREADS = """
import json, sys, threading
import redis
from gjobs import Queue
assert not __import__("gevent.monkey").monkey.is_module_patched("threading")
client = redis.Redis.from_url(sys.argv[1], client_name="threads-" + sys.argv[2])
queue = Queue(client, sys.argv[2])
ids = []
def caller(t):
    for n in range(50):
        ids.append(queue.enqueue({"task": "t", "args": [t, n]}))
threads = [threading.Thread(target=caller, args=(t,)) for t in range(16)]
for t in threads: t.start()
for t in threads: t.join()
names = [c for c in client.client_list() if c.get("name") == "threads-" + sys.argv[2]]
print(json.dumps({"ids": ids, "connections": len(names)}))
"""


def test_plain_threads_without_gevent_get_distinct_ids_and_every_job_stored_once(redis_process, real_client, prefix):
    """In a process gevent never patched (this one is): 16 threads enqueueing at once."""
    done = subprocess.run([sys.executable, "-c", THREADS, redis_process.url, prefix], capture_output=True,
                          text=True, timeout=60, env=dict(os.environ, PYTHONPATH=REPO))
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    queue = Queue(real_client, prefix)
    assert len(set(reply["ids"])) == 800
    assert sorted(ready_ids(real_client, queue)) == sorted(reply["ids"])
    assert real_client.hlen(queue.keys.jobs) == 800
    assert reply["connections"] <= 3  # the queue's (two at most) and client_list's own


@pytest.fixture(scope="module")
def cluster():
    if not available():
        pytest.skip("redis-server and redis-cli are needed")
    cluster = Cluster(masters=3).start()
    yield cluster
    cluster.cleanup()


def test_on_a_cluster_concurrent_callers_of_queues_on_two_masters_each_get_their_jobs_stored_once(cluster):
    client = connect(cluster.url)
    queues = {}
    while len(queues) < 2:  # one queue on each master: their keys share a slot, one per queue
        queue = Queue(client, f"test-{os.urandom(5).hex()}")
        queues.setdefault(cluster.node_port_of(queue.keys.jobs), queue)
    ids = {queue.prefix: [] for queue in queues.values()}

    def caller(queue):
        for n in range(20):
            ids[queue.prefix].append(queue.enqueue_in(job(n), 60) if n % 5 == 0 else queue.enqueue(job(n)))

    gevent.joinall([gevent.spawn(caller, q) for q in queues.values() for _ in range(50)], raise_error=True)
    for queue in queues.values():
        stored = ready_ids(client, queue) + [text(i) for i in client.zrange(queue.keys.delayed, 0, -1)]
        assert len(set(ids[queue.prefix])) == 1000 and sorted(stored) == sorted(ids[queue.prefix])
        assert client.hlen(queue.keys.jobs) == 1000
    client.close()
