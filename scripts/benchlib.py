"""Shared parts of ``scripts/bench``: the probe inside each worker process, and the orchestrator's
measurements, statistics and tables.

A worker process runs one system (gjobs or a peer) on one workload. Every job calls the
:class:`Probe`. For a throughput run it takes a snapshot (wall time, the process' CPU time from
``getrusage``, Redis' ``INFO cpu`` and ``INFO commandstats``) when the first job finishes, and
another once the last job has finished and the worker has reported it to Redis; it writes the
difference as one JSON line to a pipe the orchestrator passed in. Jobs are enqueued before the
worker starts, so imports and start-up fall outside the measured window, for every system alike.
"""

from __future__ import annotations

import json
import math
import os
import resource
import select
import signal
import statistics
import subprocess
import sys
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Sequence

import redis

HERE = os.path.dirname(os.path.abspath(__file__))

#: Seconds a peer gets after its last job to send its acknowledgements before the final
#: snapshot (gjobs is watched directly: the snapshot is taken as soon as Redis confirmed).
PEER_GRACE = 1.0
#: The probe the running worker process uses; set by ``bench_peers.run``.
PROBE: Optional["Probe"] = None


# -- inside a worker process --------------------------------------------------------------------


def cpu_seconds() -> float:
    """User + system CPU of this process (every thread), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def rss_bytes() -> int:
    """Resident set size of this process now, in bytes (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def redis_snapshot(client: Any) -> dict:
    """Redis' CPU seconds and calls per command so far (``INFO`` itself left out)."""
    cpu = client.info("cpu")
    stats = client.info("commandstats")
    calls = {name[len("cmdstat_"):]: int(entry["calls"]) for name, entry in stats.items()}
    usec = {name[len("cmdstat_"):]: int(entry["usec"]) for name, entry in stats.items()}
    calls.pop("info", None)
    usec.pop("info", None)
    return {"cpu": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]), "calls": calls, "usec": usec}


def snapshot(client: Any) -> dict:
    wall, usage = time.time(), resource.getrusage(resource.RUSAGE_SELF)
    return {"time": wall, "cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime,
            "redis": redis_snapshot(client)}


class Probe:
    """Counts the jobs a worker runs and reports to the orchestrator.

    ``cfg["probe"]`` says what is measured:

    ``throughput``
        ``cfg["n"]`` jobs, each sleeping ``cfg["sleep"]`` seconds (0: a no-op) and then, with
        ``cfg["incr"]``, making one Redis call (INCR) through a plain redis-py client; reports rate,
        CPU and Redis figures between the first and the last job.
    ``latency`` / ``delayed``
        each job carries the time it was enqueued (``t``) or due (``scheduled_at``); reports the
        delays from that time to the job starting, once ``n`` jobs have started.
    ``hold``
        jobs start and never finish; once ``n`` run at once, reports the growth of the worker's
        RSS since :meth:`baseline`.
    """

    def __init__(self, cfg: dict) -> None:
        self.kind = cfg["probe"]
        self.total = int(cfg["n"])
        self.pause = float(cfg.get("sleep", 0))
        self.grace = float(cfg.get("grace", PEER_GRACE))
        self.count = 0
        self.samples: List[float] = []
        #: set by a system whose acknowledgements can be watched in-process: True once settled.
        self.settled: Optional[Callable[[], bool]] = None
        self.finished = threading.Event()
        self._fd = int(cfg["report_fd"])
        self._redis = redis.Redis.from_url(cfg["url"])
        self._redis.ping()  # connect now, not in the first job
        self._first: Optional[dict] = None
        self._last_time = 0.0
        self._baseline_rss = 0
        self._sleep = _sleeper()
        #: the job body's own Redis client (a plain one, pooled as an application's would be)
        # (redis-py 8's pool refuses past 100 connections unless told: one per concurrent job)
        self._body = redis.Redis.from_url(cfg["url"], max_connections=int(cfg.get("concurrency", 100))) \
            if cfg.get("incr") else None

    # what the systems call

    def job(self, job: Any = None) -> None:
        """The body of every benchmark job."""
        kind = self.kind
        if kind == "throughput":
            if self.pause:
                self._sleep(self.pause)
            if self._body is not None:
                self._body.incr("bench:body")
            self.count += 1
            if self.count == 1:
                self._first = snapshot(self._redis)
            elif self.count == self.total:
                self._last_time = time.time()
                threading.Thread(target=self._report_throughput, daemon=True).start()
        elif kind == "hold":
            self.count += 1
            if self.count == self.total:
                threading.Thread(target=self._report_hold, daemon=True).start()
            self._sleep(3600)
        else:
            due = job["t"] if kind == "latency" else job["scheduled_at"]
            self.samples.append(time.time() - due)
            self.count += 1
            if self.count == self.total:
                self._send(event="result", samples=self.samples)
                self.finished.set()

    def baseline(self) -> None:
        """Take the RSS that :meth:`job` in ``hold`` mode measures growth from."""
        self._baseline_rss = rss_bytes()

    def ready(self) -> None:
        """Tell the orchestrator the worker is up and fetching."""
        self._send(event="ready")

    # reporting

    def _send(self, **message: Any) -> None:
        send(self._fd, **message)

    def _report_throughput(self) -> None:
        if self.settled is None:
            time.sleep(self.grace)
        else:
            deadline = time.monotonic() + 30
            while not self.settled() and time.monotonic() < deadline:
                time.sleep(0.001)
        last = snapshot(self._redis)
        first = self._first
        calls = {
            name: count - first["redis"]["calls"].get(name, 0)
            for name, count in last["redis"]["calls"].items()
            if count - first["redis"]["calls"].get(name, 0) > 0
        }
        usec = {
            name: spent - first["redis"]["usec"].get(name, 0)
            for name, spent in last["redis"]["usec"].items()
            if spent - first["redis"]["usec"].get(name, 0) > 0
        }
        self._send(
            event="result",
            jobs=self.total - 1,
            usec=usec,
            elapsed=self._last_time - first["time"],
            worker_cpu=last["cpu"] - first["cpu"],
            worker_sys=last["sys"] - first["sys"],
            redis_cpu=last["redis"]["cpu"] - first["redis"]["cpu"],
            calls=calls,
            rss=rss_bytes(),
        )
        self.finished.set()

    def _report_hold(self) -> None:
        time.sleep(1.0)  # let the fetch loop and the pool reach their steady state
        rss = rss_bytes()
        self._send(event="result", baseline_rss=self._baseline_rss, rss=rss, in_flight=self.count)
        self.finished.set()


def send(fd: int, **message: Any) -> None:
    """Write one message (a JSON line) to the orchestrator's pipe."""
    os.write(fd, (json.dumps(message) + "\n").encode())


def check_gjobs_import(cfg: dict) -> None:
    """Import gjobs and make sure it is the copy under ``cfg["gjobs_root"]`` (this checkout, or
    the worktree of ``scripts/bench --baseline``); tell the orchestrator which file it is, or
    report an ``error`` and exit if it is another copy (an installed or editable gjobs)."""
    import gjobs

    where = os.path.realpath(gjobs.__file__)
    root = os.path.realpath(cfg["gjobs_root"])
    version = getattr(gjobs, "__version__", "?")
    print(f"bench worker: gjobs {version} imported from {where}", file=sys.stderr, flush=True)
    if os.path.commonpath([where, root]) != root:
        send(int(cfg["report_fd"]), event="error",
             message=f"imported gjobs from {where}, not from {root} (sys.path: {sys.path})")
        sys.exit(3)
    send(int(cfg["report_fd"]), event="imported", gjobs=where, version=version)


def _sleeper() -> Callable[[float], None]:
    from gevent import monkey

    if monkey.is_module_patched("time"):
        import gevent

        return gevent.sleep
    return time.sleep


def raise_fd_limit() -> None:
    """Allow as many open files as the hard limit (a peer with 1,000 greenlets opens 1,000
    connections)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- in the orchestrator ------------------------------------------------------------------------


class WorkerProcess:
    """``python -m bench_peers.run SYSTEM CONFIG`` in its own session, reporting on a pipe.

    ``import_root``: the directory the worker imports gjobs from (default: this checkout); when
    given, the worker checks that it did (:func:`check_gjobs_import`) and :attr:`imported` is
    the file it imported, once a message from it has been read.
    """

    def __init__(self, system: str, cfg: dict, log_path: str, import_root: Optional[str] = None) -> None:
        read_end, write_end = os.pipe()
        cfg = dict(cfg, report_fd=write_end)
        if import_root:
            cfg["gjobs_root"] = import_root
        env = dict(os.environ)
        # This checkout's gjobs (or import_root's), whatever another checkout installed (pip
        # install -e elsewhere): PYTHONPATH comes before site-packages and its editable finders.
        # The harness (bench_peers, benchlib) is always this checkout's.
        root = import_root or os.path.dirname(HERE)
        path = [HERE, root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
        env["PYTHONPATH"] = os.pathsep.join(path)
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bench_peers.run", system, json.dumps(cfg)],
                pass_fds=(write_end,), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                env=env, cwd=HERE, start_new_session=True,
            )
        os.close(write_end)
        self._fd = read_end
        self._buffer = b""
        self.cpu = 0.0  # seconds of CPU the worker used in all, known once it is killed
        self.imported: Optional[dict] = None  # the worker's "imported" message: gjobs' file, version
        self.warnings: List[str] = []  # what the worker said makes its figures less comparable

    def next_event(self, timeout: float) -> dict:
        """The next message from the worker; raises if none comes in ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"worker sent nothing for {timeout:.0f} s; see {self.log_path}")
            readable, _, _ = select.select([self._fd], [], [], min(left, 1.0))
            if readable:
                chunk = os.read(self._fd, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"worker exited ({self.process.poll()}); see {self.log_path}")
                self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def wait_for(self, event: str, timeout: float) -> dict:
        while True:
            message = self.next_event(timeout)
            if message["event"] == "error":
                raise RuntimeError(f"worker failed: {message['message']}; see {self.log_path}")
            if message["event"] == "imported":
                self.imported = message
            if message["event"] == "warning":
                self.warnings.append(message["message"])
            if message["event"] == event:
                return message

    def kill(self) -> None:
        """Kill the worker (and anything it started) and keep the CPU it used in ``self.cpu``."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if self.process.returncode is None:
            _, status, usage = os.wait4(self.process.pid, 0)
            self.process.returncode = os.waitstatus_to_exitcode(status)
            self.cpu = usage.ru_utime + usage.ru_stime
        os.close(self._fd)

    def __enter__(self) -> "WorkerProcess":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.kill()


def busy_cpu_seconds() -> float:
    """CPU seconds every process on the machine has spent so far (from ``/proc/stat``)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def throughput_figures(result: dict) -> Dict[str, float]:
    """Per-job figures from a ``throughput`` probe result."""
    jobs = result["jobs"]
    return {
        "jobs_per_s": jobs / result["elapsed"],
        "worker_cpu_us": result["worker_cpu"] / jobs * 1e6,
        "worker_sys_us": result["worker_sys"] / jobs * 1e6,
        "redis_cpu_us": result["redis_cpu"] / jobs * 1e6,
        "redis_cmds": sum(result["calls"].values()) / jobs,
    }


def calls_per_second(call: Callable[[int], Any], n: int) -> float:
    """Rate of ``call(0)``, ``call(1)``, ... ``call(n - 1)`` made one after another: a peer's
    enqueue, one job per call."""
    started = time.perf_counter()
    for i in range(n):
        call(i)
    return n / (time.perf_counter() - started)


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return math.nan
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    clean = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(clean) if clean else math.nan


def fmt(value: Any, digits: int = 0) -> str:
    """``12,345`` / ``12.3``; ``-`` for missing values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, str):
        return value
    if digits == 0 and abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.{max(digits, 2)}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]
    lines = []
    for n, row in enumerate([headers, *rows]):
        cells = [str(c).ljust(widths[0]) if i == 0 else str(c).rjust(widths[i]) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def machine() -> dict:
    """What the figures were measured on."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.split()
        redis_version = next((part[2:] for part in version if part.startswith("v=")), "unknown")
    except OSError:
        redis_version = "unknown"
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": sys.version.split()[0],
        "redis_server": redis_version,
        "load_average": os.getloadavg(),
    }
