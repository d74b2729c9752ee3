"""Real multi-process Redis topologies for the tests: a 3-master Cluster, and Sentinel failover.

Every process listens on 127.0.0.1 on a free port and keeps its files in a temporary directory;
``start()`` returns once the topology is usable, ``cleanup()`` stops everything and removes the
files. Nothing here talks to a Redis the tests did not start.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

import redis

from gjobs.embedded import RedisProcess, free_port

#: Seconds a cluster node or a Sentinel may take to come up and agree with the others.
READY_TIMEOUT = 30.0

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if condition():
                return
        except (redis.RedisError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(f"{name} is not installed (Debian: apt-get install redis-server redis-tools)")
    return path


def _sentinel_command(conf: str) -> List[str]:
    """``redis-sentinel CONF``, or the same program as ``redis-server CONF --sentinel``."""
    if shutil.which("redis-sentinel"):
        return [_binary("redis-sentinel"), conf]
    return [_binary("redis-server"), conf, "--sentinel"]


def available() -> bool:
    """True when redis-server and redis-cli are installed."""
    return bool(shutil.which("redis-server") and shutil.which("redis-cli"))


class Cluster:
    """A Redis Cluster of ``masters`` masters without replicas, created with ``redis-cli --cluster``.

    Each node gets a free client port and a free cluster-bus port (``cluster-port``), so nothing
    depends on ``port + 10000`` being free.
    """

    def __init__(self, masters: int = 3, node_timeout_ms: int = 2000) -> None:
        self.nodes = [
            RedisProcess(extra=[
                "--cluster-enabled", "yes",
                "--cluster-config-file", "nodes.conf",
                "--cluster-port", str(free_port()),
                "--cluster-node-timeout", str(node_timeout_ms),
            ])
            for _ in range(masters)
        ]

    @property
    def ports(self) -> List[int]:
        return [node.port for node in self.nodes]

    @property
    def url(self) -> str:
        """``redis+cluster://`` URL naming every node."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self) -> "Cluster":
        try:
            for node in self.nodes:
                node.start()
            subprocess.run(
                [_binary("redis-cli"), "--cluster", "create"]
                + [f"127.0.0.1:{port}" for port in self.ports]
                + ["--cluster-replicas", "0", "--cluster-yes"],
                check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=READY_TIMEOUT,
            )
            for port in self.ports:
                _wait(lambda port=port: self._ready(port), READY_TIMEOUT, f"cluster node {port}")
        except BaseException:
            self.cleanup()
            raise
        return self

    def _ready(self, port: int) -> bool:
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=2) as node:
            info = node.execute_command("CLUSTER INFO")  # parsed into a dict by redis-py
            if info.get("cluster_state") != "ok":
                return False
            return len(node.execute_command("CLUSTER SLOTS")) == len(self.nodes)

    def node_port_of(self, key: str) -> int:
        """The port of the master that owns ``key``'s slot, asked of the cluster itself."""
        with redis.Redis(host="127.0.0.1", port=self.ports[0], socket_timeout=2) as node:
            slot = node.execute_command("CLUSTER KEYSLOT", key)
            for start, end, master, *_ in node.execute_command("CLUSTER SLOTS"):
                if start <= slot <= end:
                    return int(master[1])
        raise LookupError(f"no node owns the slot of {key!r}")

    def cleanup(self) -> None:
        for node in self.nodes:
            node.cleanup()


class SentinelGroup:
    """One master, one replica and ``sentinels`` Sentinels watching them as ``service``.

    ``down_after_ms`` is how long the master must be silent before the Sentinels fail over.
    ``master`` and ``replica`` name the processes' first roles; after a failover, ask
    :meth:`master_port`.
    """

    def __init__(self, service: str = "gjobs-test", sentinels: int = 3, down_after_ms: int = 1000) -> None:
        self.service = service
        self.down_after_ms = down_after_ms
        # A full sync waits 5 s by default for more replicas to join it: not here.
        fast_sync = ["--repl-diskless-sync-delay", "0"]
        self.master = RedisProcess(extra=fast_sync)
        self.replica = RedisProcess(extra=fast_sync + ["--replicaof", "127.0.0.1", str(self.master.port)])
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.dir = tempfile.mkdtemp(prefix="gjobs-sentinel-")
        self.sentinels: Dict[int, Optional[subprocess.Popen]] = {port: None for port in self.sentinel_ports}

    def url(self, db: int = 0) -> str:
        """``redis+sentinel://`` URL naming every Sentinel and the service."""
        hosts = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"redis+sentinel://{hosts}/{self.service}/{db}"

    def start(self) -> "SentinelGroup":
        try:
            self.master.start()
            self.replica.start()
            _wait(self._replica_in_sync, READY_TIMEOUT, "the replica to sync")
            for port in self.sentinel_ports:
                self._start_sentinel(port)
            for port in self.sentinel_ports:
                _wait(lambda port=port: self._sentinel_ready(port), READY_TIMEOUT, f"sentinel {port}")
        except BaseException:
            self.cleanup()
            raise
        return self

    def _start_sentinel(self, port: int) -> None:
        conf = os.path.join(self.dir, f"sentinel-{port}.conf")
        with open(conf, "w") as out:
            out.write(
                f"port {port}\nbind 127.0.0.1\nprotected-mode no\ndir {self.dir}\n"
                f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 2\n"
                f"sentinel down-after-milliseconds {self.service} {self.down_after_ms}\n"
                f"sentinel failover-timeout {self.service} 10000\n"
                f"sentinel parallel-syncs {self.service} 1\n"
            )
        log = open(os.path.join(self.dir, f"sentinel-{port}.log"), "ab")
        self.sentinels[port] = subprocess.Popen(
            _sentinel_command(conf), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def _replica_in_sync(self) -> bool:
        with redis.Redis(host="127.0.0.1", port=self.replica.port, socket_timeout=2) as replica:
            return replica.info("replication").get("master_link_status") == "up"

    def _sentinel_ready(self, port: int) -> bool:
        """The Sentinel knows the master, the replica and every other Sentinel."""
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=2) as sentinel:
            replicas = sentinel.execute_command("SENTINEL", "REPLICAS", self.service)
            others = sentinel.execute_command("SENTINEL", "SENTINELS", self.service)
            return len(replicas) == 1 and len(others) == len(self.sentinel_ports) - 1

    def master_port(self) -> int:
        """The port of the master as the first answering Sentinel sees it now."""
        for port in self.sentinel_ports:
            try:
                with redis.Redis(host="127.0.0.1", port=port, socket_timeout=2) as sentinel:
                    host, master = sentinel.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service)
                    return int(master)
            except (redis.RedisError, OSError):
                continue
        raise RuntimeError("no sentinel answered")

    def kill_master(self) -> None:
        """SIGKILL the master process, with no chance to flush anything to the replica."""
        self.master.stop(kill=True)

    def cleanup(self) -> None:
        for port, process in self.sentinels.items():
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
            self.sentinels[port] = None
        self.master.cleanup()
        self.replica.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)


    def restart_as_replica(self, process: RedisProcess) -> None:
        """Start the stopped ``process`` again (empty) as a replica of the current master, as an
        operator brings a failed node back after a failover."""
        process.extra = ["--repl-diskless-sync-delay", "0", "--replicaof", "127.0.0.1", str(self.master_port())]
        process.start()


# -- workers in their own processes -----------------------------------------------------------


def record(job: dict) -> None:
    """A delegate: sleep ``job["sleep"]`` seconds (cooperatively), then append ``n`` and the time
    to the file ``job["out"]``, one line per run, so the test process can count runs."""
    if job.get("sleep"):
        time.sleep(job["sleep"])  # patched by gevent in a worker: yields to the other jobs
    fd = os.open(job["out"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{job['n']} {time.time()!r}\n".encode())
    finally:
        os.close(fd)


def runs(path: str) -> Dict[str, List[float]]:
    """What :func:`record` wrote to ``path``: ``n`` -> the times it ran (none when no file)."""
    found: Dict[str, List[float]] = {}
    if not os.path.exists(path):
        return found
    with open(path) as handle:
        for line in handle:
            parts = line.split()
            if len(parts) == 2:
                found.setdefault(parts[0], []).append(float(parts[1]))
    return found


class Worker:
    """``python -m gjobs tests.topologies:record --redis-url URL --prefix PREFIX ...`` in a
    process group of its own; its log goes to ``log_path``."""

    def __init__(self, url: str, prefix: str, directory: str, *options: str) -> None:
        self.log_path = os.path.join(directory, f"worker-{time.monotonic_ns()}.log")
        argv = [sys.executable, "-m", "gjobs", "tests.topologies:record", "--redis-url", url, "--prefix", prefix]
        env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                argv + list(options), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self.pid = self.process.pid

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown code runs."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit status."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.process.returncode
