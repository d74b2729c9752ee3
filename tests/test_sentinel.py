"""gjobs behind Redis Sentinel: one master, one replica, three Sentinels, all real processes.

Clients name the Sentinels and the service (``redis+sentinel://``) and always talk to the
current master. The failover scenario kills the master with SIGKILL while a worker process runs
jobs and two producers enqueue, one of them with ``wait_replicas=1``, and measures what was lost.
"""

import io
import os
import signal
import time
from typing import Dict, List

import gevent
import gevent.event
import pytest
import redis
from redis.sentinel import SentinelConnectionPool

from gjobs import Buffer, Queue, Server, connect
from gjobs.connection import NotReplicatedError
from gjobs.keys import Keys
from tests.helpers import wait_for
from tests.topologies import SentinelGroup, Worker, available, runs

pytestmark = pytest.mark.skipif(not available(), reason="redis-server and redis-cli are needed")


@pytest.fixture(scope="module")
def sentinels():
    group = SentinelGroup().start()
    yield group
    group.cleanup()


@pytest.fixture
def sentinel_client(sentinels):
    client = connect(sentinels.url())
    yield client
    client.close()


def test_a_sentinel_url_gives_a_client_of_the_current_master(sentinels, sentinel_client):
    assert isinstance(sentinel_client.connection_pool, SentinelConnectionPool)
    assert sentinel_client.info("replication")["role"] == "master"
    assert sentinel_client.info("server")["tcp_port"] == sentinels.master.port


def test_a_server_runs_jobs_through_sentinel(sentinel_client, prefix):
    buffer = Buffer()
    server = Server(buffer, sentinel_client, prefix=prefix, heartbeat_interval=0.2)
    server.start()
    try:
        server.call({"n": 1})
        assert buffer.pop(timeout=5) == {"n": 1}
        queue = Queue(sentinel_client, prefix)
        first = queue.registry.workers()[0]["last_beat"]
        wait_for(lambda: queue.registry.workers()[0]["last_beat"] > first, message="a beat from the heartbeat thread")
    finally:
        server.stop(timeout=1)


def test_a_worker_process_runs_jobs_from_a_sentinel_url(sentinels, sentinel_client, prefix, tmp_path):
    out = str(tmp_path / "runs")
    Queue.from_url(sentinels.url(), prefix).enqueue({"n": "a", "out": out})
    worker = Worker(sentinels.url(), prefix, str(tmp_path), "--heartbeat-interval", "0.5")
    try:
        wait_for(lambda: "a" in runs(out), timeout=20, message="the worker to run the job")
    finally:
        worker.stop()


def test_the_gjobs_command_reads_a_queue_through_sentinel(sentinels, sentinel_client, prefix):
    from gjobs.cli.admin import main

    Queue(sentinel_client, prefix).enqueue({"n": 1})
    out = io.StringIO()
    assert main(["stats", "--redis-url", sentinels.url(), "--prefix", prefix, "--json"], out=out) == 0
    assert '"ready": 1' in out.getvalue()


def test_an_enqueue_with_wait_replicas_returns_once_the_replica_holds_the_job(sentinels, sentinel_client, prefix):
    queue = Queue(sentinel_client, prefix, wait_replicas=1)
    job_id = queue.enqueue({"n": 1})
    with redis.Redis(host="127.0.0.1", port=sentinels.replica.port) as replica:
        assert replica.hget(Keys(prefix).jobs, job_id) is not None


def test_an_enqueue_no_replica_acknowledged_raises_but_is_written(real_client, prefix):
    queue = Queue(real_client, prefix, wait_replicas=1, wait_timeout=0.05)
    with pytest.raises(NotReplicatedError, match="0 of 1 replicas"):
        queue.enqueue({"n": 1})
    assert queue.stats()["ready"] == 1


def test_wait_replicas_must_be_a_whole_number(real_client, prefix):
    with pytest.raises(ValueError, match="wait_replicas"):
        Queue(real_client, prefix, wait_replicas=-1)


# -- failover under load ----------------------------------------------------------------------

#: Written to the master while its replica is frozen: more than the kernel buffers between them
#: can hold (a loopback TCP receive buffer grows to 32 MB at most), so the writes that follow it
#: are still in the master's own memory when it dies.
BALLAST_MB = 48


class Producer:
    """Enqueues ``{"n": tag + i}`` jobs one by one until stopped, retrying each until Redis
    acknowledges it; ``acked`` maps each acknowledged ``n`` to when it was acknowledged, and
    ``sent`` to when the attempt that was acknowledged began."""

    def __init__(self, queue: Queue, tag: str, out: str, pause: float = 0.004) -> None:
        self.queue, self.tag, self.out, self.pause = queue, tag, out, pause
        self.acked: Dict[str, float] = {}
        self.sent: Dict[str, float] = {}
        self.errors = 0
        self._stop = gevent.event.Event()
        self._greenlet = gevent.spawn(self._run)

    def _run(self) -> None:
        i = 0
        while not self._stop.is_set():
            n = f"{self.tag}{i}"
            sent = time.time()
            try:
                self.queue.enqueue({"n": n, "out": self.out})
            except (redis.RedisError, OSError):
                self.errors += 1
                self._stop.wait(0.05)
                continue
            self.acked[n] = time.time()
            self.sent[n] = sent
            i += 1
            self._stop.wait(self.pause)

    def acked_after(self, moment: float) -> List[str]:
        return [n for n, at in self.acked.items() if at > moment]

    def stop(self) -> None:
        self._stop.set()
        self._greenlet.join()


def run_failover(directory: str, lagging: bool) -> dict:
    """Kill the master (SIGKILL) while a worker process runs jobs and two producers enqueue,
    ``p`` plainly and ``w`` with ``wait_replicas=1``; bring the old master back as a replica once
    the Sentinels promoted the other; wait for everything acknowledged to run; return figures.

    Just before the kill the worker is paused (SIGSTOP) until some 20 jobs wait in the ready
    list. With ``lagging``, the replica is paused too while the master takes ``BALLAST_MB`` of
    other writes before those jobs: the replica is behind, as one on a slow link would be.
    """
    out = os.path.join(directory, "runs")
    prefix = "failover"
    group = SentinelGroup().start()
    worker = None
    producers: List[Producer] = []
    try:
        url = group.url()
        worker = Worker(url, prefix, directory, "--heartbeat-interval", "0.5", "--concurrency", "20")
        plain = Producer(Queue.from_url(url, prefix), "p", out)
        acked = Producer(Queue.from_url(url, prefix, wait_replicas=1), "w", out)
        producers = [plain, acked]
        wait_for(lambda: len(runs(out)) >= 300, timeout=30, message="jobs running before the failover")

        # The worker pauses, so that jobs wait in the ready list when the master dies: the ones
        # the replica never got cannot run anywhere afterwards.
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            if lagging:
                os.kill(group.replica.process.pid, signal.SIGSTOP)
                with redis.Redis(host="127.0.0.1", port=group.master.port) as master:
                    for i in range(BALLAST_MB):
                        master.set(f"ballast:{i}", b"x" * (1 << 20))
            backlog_from = time.time()
            wait_for(lambda: len(plain.acked_after(backlog_from)) >= 20, timeout=5, message="jobs waiting")
            killed_at = time.time()
            group.kill_master()
        finally:
            if lagging:
                os.kill(group.replica.process.pid, signal.SIGCONT)
            os.kill(worker.pid, signal.SIGCONT)
        wait_for(lambda: group.master_port() == group.replica.port, timeout=30, message="the failover")
        promoted_at = time.time()
        group.restart_as_replica(group.master)  # so that WAIT can be satisfied again

        def resumed():
            ran = runs(out)
            return all(len([n for n in p.acked_after(promoted_at) if n in ran]) >= 100 for p in producers)

        try:
            wait_for(resumed, timeout=40, message="producers and the worker to carry on after the failover")
        except AssertionError:
            ran = runs(out)
            state = {p.tag: (len(p.acked_after(promoted_at)), len([n for n in p.acked_after(promoted_at) if n in ran]),
                             p.errors) for p in producers}
            raise AssertionError(f"no progress after the failover: {state}\n{worker.log()[-6000:]}") from None
        for producer in producers:
            producer.stop()

        def settled():
            ran = runs(out)
            if all(n in ran for p in producers for n in p.acked):
                return True
            # or nothing is left to run: what has not run by now was lost
            stats = plain.queue.stats()
            return stats["ready"] == stats["delayed"] == stats["in_progress"] == 0

        wait_for(settled, timeout=20, message="the queue to run everything it holds")
        ran = runs(out)
        # the worker is back on the new master when it runs a job enqueued there
        first_run_after = min(t for p in producers for n in p.acked_after(killed_at) for t in ran.get(n, ()))
        figures = {"failover_s": round(promoted_at - killed_at, 2),
                   "worker_resumed_s": round(first_run_after - killed_at, 2)}
        for producer in producers:
            # acknowledged writes sent after the kill: the producer is on the new master
            after_kill = [producer.acked[n] for n, at in producer.sent.items() if at > killed_at]
            figures[producer.tag] = {
                "acked": len(producer.acked),
                "lost": sorted(n for n in producer.acked if n not in ran),
                "ran_twice": sum(1 for n in producer.acked if len(ran.get(n, ())) > 1),
                "errors": producer.errors,
                "resumed_s": round(min(after_kill) - killed_at, 2) if after_kill else None,
            }
        summary = {key: (dict(value, lost=len(value["lost"])) if isinstance(value, dict) else value)
                   for key, value in figures.items()}
        print(f"\nfailover, {'lagging' if lagging else 'in-sync'} replica "
              f"(p: plain enqueue, w: wait_replicas=1): {summary}")
        return figures
    finally:
        for producer in producers:
            producer.stop()
        if worker is not None:
            worker.stop()
        group.cleanup()


@pytest.fixture(scope="module")
def in_sync(tmp_path_factory):
    """The master dies while its replica is up to date."""
    return run_failover(str(tmp_path_factory.mktemp("in-sync")), lagging=False)


@pytest.fixture(scope="module")
def lagging(tmp_path_factory):
    """The master dies while its replica is tens of megabytes behind."""
    return run_failover(str(tmp_path_factory.mktemp("lagging")), lagging=True)


@pytest.mark.slow
def test_the_worker_follows_the_failover(in_sync):
    assert in_sync["worker_resumed_s"] < 30


@pytest.mark.slow
def test_producers_follow_the_failover(in_sync):
    assert in_sync["p"]["resumed_s"] is not None and in_sync["w"]["resumed_s"] is not None


@pytest.mark.slow
def test_no_job_acknowledged_with_wait_replicas_is_lost_in_a_failover(in_sync):
    assert in_sync["w"]["lost"] == []


@pytest.mark.slow
def test_no_job_acknowledged_with_wait_replicas_is_lost_even_when_the_replica_lagged(lagging):
    assert lagging["w"]["lost"] == []


@pytest.mark.slow
def test_jobs_acknowledged_without_wait_are_lost_when_the_replica_lagged(lagging):
    assert lagging["p"]["lost"]  # asynchronous replication: what the replica never got is gone
