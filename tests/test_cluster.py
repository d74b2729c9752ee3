"""gjobs on a real 3-master Redis Cluster: the core behaviours, on queues held by different shards.

Every key of a queue shares the ``{prefix}`` hash tag, so each queue lives in one slot; queues
with different names spread over the masters. Each behaviour runs on two queues whose slots
belong to two different masters (``shard`` 0 and 1).
"""

import io
import time
import uuid

import pytest
from redis.cluster import RedisCluster

from gjobs import Buffer, Queue, connect
from gjobs.connection import NotReplicatedError, clone
from gjobs.keys import Keys
from tests.helpers import wait_for
from tests.topologies import Cluster, Worker, available, runs

pytestmark = pytest.mark.skipif(not available(), reason="redis-server and redis-cli are needed")


@pytest.fixture(scope="module")
def cluster():
    cluster = Cluster(masters=3).start()
    yield cluster
    cluster.cleanup()


@pytest.fixture
def cluster_client(cluster):
    client = connect(cluster.url)
    yield client
    client.close()


def prefix_on(cluster, index):
    """A fresh queue name whose slot belongs to the ``index``-th master (by port)."""
    port = sorted(cluster.ports)[index]
    while True:
        prefix = f"test-{uuid.uuid4().hex[:10]}"
        if cluster.node_port_of(Keys(prefix).jobs) == port:
            return prefix


@pytest.fixture(params=[0, 1], ids=["shard0", "shard1"])
def shard_prefix(request, cluster):
    return prefix_on(cluster, request.param)


@pytest.fixture
def buffer():
    return Buffer()


@pytest.fixture
def make_server(servers, cluster_client, buffer):
    """``make(prefix, delegate=buffer, **options)``: a Server on the cluster, without backoff
    (see ``servers``)."""

    def make(prefix, delegate=None, **options):
        options.setdefault("backoff", lambda attempt: 0)
        return servers(delegate or buffer, cluster_client, prefix, **options)

    return make


def failing(job):
    raise RuntimeError(f"job {job['n']} fails")


# -- connecting -----------------------------------------------------------------------------


def test_a_cluster_url_gives_a_cluster_client_that_knows_every_master(cluster, cluster_client):
    assert isinstance(cluster_client, RedisCluster)
    assert sorted(node.port for node in cluster_client.get_primaries()) == sorted(cluster.ports)


def test_one_node_in_the_url_is_enough_to_find_the_others(cluster):
    client = connect(f"redis+cluster://127.0.0.1:{cluster.ports[0]}")
    try:
        assert len(client.get_primaries()) == 3
    finally:
        client.close()


def test_queues_with_different_names_live_on_different_masters(cluster):
    first, second = prefix_on(cluster, 0), prefix_on(cluster, 1)
    assert cluster.node_port_of(Keys(first).ready) != cluster.node_port_of(Keys(second).ready)


def test_every_key_of_a_queue_is_in_one_slot(cluster_client, shard_prefix):
    keys = Keys(shard_prefix)
    names = [keys.jobs, keys.attempts, keys.ready, keys.delayed, keys.completed, keys.missing,
             keys.workers, keys.workers_info, keys.dead, keys.dead_errors, keys.pending("w")]
    assert len({cluster_client.keyslot(name) for name in names}) == 1


def test_a_clone_reaches_the_same_cluster_with_connections_of_its_own(cluster_client, shard_prefix):
    key = Keys(shard_prefix).completed
    cluster_client.set(key, 7)
    copy = clone(cluster_client)
    try:
        assert copy is not cluster_client
        assert copy.get(key) == b"7"
        assert copy.get_node_from_key(key).redis_connection is not cluster_client.get_node_from_key(
            key).redis_connection
    finally:
        copy.close()


# -- the core behaviours, on two shards -------------------------------------------------------


def test_immediate_job_runs(make_server, buffer, shard_prefix):
    server = make_server(shard_prefix)
    server.start()
    server.call({"data": "now"})
    assert buffer.pop(timeout=5) == {"data": "now"}


def test_delayed_job_runs_at_its_time(make_server, buffer, shard_prefix):
    server = make_server(shard_prefix)
    server.start()
    server.call({"data": "later", "scheduled_at": time.time() + 0.3})
    started = time.monotonic()
    assert buffer.pop(timeout=5)["data"] == "later"
    assert time.monotonic() - started >= 0.25


def test_a_failed_job_is_retried(make_server, buffer, shard_prefix):
    calls = []

    def flaky(job):
        calls.append(job)
        if len(calls) == 1:
            raise RuntimeError("first attempt fails")
        buffer.call(job)

    server = make_server(shard_prefix, flaky)
    server.start()
    server.call({"n": 1})
    assert buffer.pop(timeout=5) == {"n": 1}
    assert len(calls) == 2


def test_a_job_out_of_attempts_goes_to_the_dead_set_with_its_error(make_server, cluster_client, shard_prefix):
    server = make_server(shard_prefix, failing, max_attempts=2)
    server.start()
    job_id = server.call({"n": 1})
    queue = Queue(cluster_client, shard_prefix)
    dead = wait_for(queue.dead, message="the job in the dead set")
    assert [(entry.id, entry.job, entry.attempts) for entry in dead] == [(job_id, {"n": 1}, 2)]
    assert dead[0].error["type"] == "RuntimeError"


def test_dead_jobs_can_be_retried_and_purged(make_server, cluster_client, buffer, shard_prefix):
    server = make_server(shard_prefix, failing, max_attempts=1)
    server.start()
    queue = Queue(cluster_client, shard_prefix)
    server.call({"n": 1})
    server.call({"n": 2})
    wait_for(lambda: len(queue.dead()) == 2, message="two dead jobs")
    server.stop(timeout=1)
    assert queue.retry_dead([queue.dead()[0].id]) == 1
    assert queue.purge_dead() == 1
    assert queue.stats()["ready"] == 1 and queue.stats()["dead"] == 0


def test_enqueue_many_stores_ready_and_delayed_jobs_together(make_server, cluster_client, buffer, shard_prefix):
    queue = Queue(cluster_client, shard_prefix)
    ids = queue.enqueue_many([{"n": 1}, {"n": 2, "scheduled_at": time.time() + 0.2}, {"n": 3}])
    assert len(ids) == 3
    stats = queue.stats()
    assert (stats["ready"], stats["delayed"]) == (2, 1)
    make_server(shard_prefix).start()
    assert sorted(buffer.pop(timeout=5)["n"] for _ in range(3)) == [1, 2, 3]


def test_wait_replicas_asks_the_master_of_the_queue(cluster_client, shard_prefix):
    queue = Queue(cluster_client, shard_prefix, wait_replicas=1, wait_timeout=0.05)
    with pytest.raises(NotReplicatedError, match="0 of 1"):  # these masters have no replica
        queue.enqueue({"n": 1})
    assert queue.stats()["ready"] == 1


def test_stats_and_status_line_count_the_queue(make_server, cluster_client, buffer, shard_prefix):
    server = make_server(shard_prefix)
    server.start()
    server.call({"n": 1})
    buffer.pop(timeout=5)
    queue = Queue(cluster_client, shard_prefix)
    wait_for(lambda: queue.stats()["completed"] == 1, message="the completion to be counted")
    server.call({"n": 2, "scheduled_at": time.time() + 60})
    stats = queue.stats()
    assert (stats["ready"], stats["delayed"], stats["completed"]) == (0, 1, 1)
    assert [worker["id"] for worker in stats["workers"]] == [server.id]
    assert server.status_string() == "R=0 D=1 P=0/1"


def test_the_heartbeat_thread_keeps_the_worker_registered(make_server, cluster_client, shard_prefix):
    server = make_server(shard_prefix, heartbeat_interval=0.1)
    server.start()
    queue = Queue(cluster_client, shard_prefix)
    first = queue.registry.workers()[0]["last_beat"]
    wait_for(lambda: queue.registry.workers()[0]["last_beat"] > first + 0.15, message="later heartbeats")


def test_two_queues_on_two_masters_run_side_by_side(cluster, cluster_client, make_server, buffer):
    first, second = prefix_on(cluster, 0), prefix_on(cluster, 1)
    make_server(first).start()
    make_server(second).start()
    Queue(cluster_client, first).enqueue({"queue": "first"})
    Queue(cluster_client, second).enqueue({"queue": "second"})
    assert sorted(buffer.pop(timeout=5)["queue"] for _ in range(2)) == ["first", "second"]


def test_the_gjobs_command_reads_a_queue_on_a_cluster(cluster, cluster_client, shard_prefix):
    from gjobs.cli.admin import main

    Queue(cluster_client, shard_prefix).enqueue({"n": 1})
    out = io.StringIO()
    assert main(["stats", "--redis-url", cluster.url, "--prefix", shard_prefix, "--json"], out=out) == 0
    assert '"ready": 1' in out.getvalue()


# -- a worker killed with SIGKILL ---------------------------------------------------------------


def test_jobs_of_a_killed_worker_are_recovered_by_another(cluster, cluster_client, make_server, buffer,
                                                          shard_prefix, tmp_path):
    out = str(tmp_path / "runs")
    queue = Queue(cluster_client, shard_prefix)
    queue.enqueue_many([{"n": n, "sleep": 60, "out": out} for n in range(4)])
    victim = Worker(cluster.url, shard_prefix, str(tmp_path), "--heartbeat-interval", "0.5", "--concurrency", "4")
    try:
        wait_for(lambda: queue.stats()["in_progress"] == 4, timeout=20, message="the worker to take 4 jobs")
    finally:
        victim.kill()
    make_server(shard_prefix).start()
    recovered = sorted(buffer.pop(timeout=10)["n"] for _ in range(4))
    assert recovered == [0, 1, 2, 3]
    assert runs(out) == {}  # the killed worker finished none of them
