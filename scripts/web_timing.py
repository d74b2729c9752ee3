#!/usr/bin/env python3
"""How long each dashboard page takes on a big queue, and on an empty one, through real HTTP.

    scripts/web_timing.py [--ready 1000000] [--dead 10000] [--delayed 1000] [--runs 20] [--json]

Starts a private redis-server and fills the queue ``big`` with ``--ready`` ready jobs
(``enqueue_many``), ``--dead`` dead jobs with an error and a traceback each (fetched and buried
as a worker buries a job's last failed attempt) and ``--delayed`` delayed ones. A
``gjobs-worker`` on ``big`` and ``empty`` holds ``--concurrency`` jobs running (they sleep) and
declares 20 schedules, so that every page has something to show. Then one ``gjobs web`` per
queue (``--prefix big``, ``--prefix empty``) serves the dashboard, and each page is fetched
``--runs`` times, the pages taking turns, after one warm-up fetch each that is not counted.

Each fetch opens a connection of its own (on loopback that adds about 0.1 ms): on a kept-alive
connection gevent's WSGI server sends the headers and the body in two writes, and without
TCP_NODELAY the body waits for the client's delayed ACK, about 40 ms, whatever the page.
``--keep-alive`` fetches over one connection, as a browser does, to see that.

Prints min/median/p95/max milliseconds per page (p95: the nearest rank), the status and the
size of the page. Everything it started is stopped at the end, the redis-server too. It is a
measurement, not a test: the figures depend on the machine.

The worker's delegate and schedules are in this file: the worker imports it as ``web_timing``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any, Dict, List, Optional, Tuple

import gjobs

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BIG, EMPTY = "big", "empty"
#: Jobs per enqueue_many call (each is sent in chunks of 2,000 per round trip).
FILL_BATCH = 50_000
#: Dead jobs fetched and buried at a time.
BURY_BATCH = 100
#: Seconds a held job sleeps: longer than any run of this script.
HOLD = 3600.0
TOKEN = "web-timing"

# The schedules the worker declares: daily crons spread over the day and slow intervals, so that
# the few that fire during a run only add a job or two to ``big``.
for _n in range(10):
    gjobs.periodic(f"{(_n * 7) % 60} {(_n * 5) % 24} * * *", name=f"daily-{_n}", queue=BIG,
                   job={"task": "app.reports:daily", "args": [_n]})
    gjobs.periodic(every=600 + 60 * _n, name=f"every-{_n}", queue=BIG, job={"task": "app.sync:pull", "args": [_n]})


def hold(job: Any) -> None:
    """The worker's delegate: a job that runs (sleeps) until the worker is stopped."""
    time.sleep(HOLD)


# -- filling Redis ---------------------------------------------------------------------------------------


def a_traceback(n: int) -> Tuple[str, str, str]:
    """A real traceback of a few frames, and the error's type and message, different per job."""

    def charge(customer: int) -> None:
        raise ConnectionError(f"payment gateway timed out after 30 s for customer {customer}")

    def run(customer: int) -> None:
        charge(customer)

    try:
        run(n)
    except ConnectionError as error:
        return type(error).__name__, str(error), traceback.format_exc()
    raise AssertionError("unreachable")


def fill_dead(queue: gjobs.Queue, count: int) -> None:
    """``count`` dead jobs, as a worker leaves them after their last attempt, died over the last day.
    The queue must have nothing else ready: they are fetched from it."""
    from gjobs.processing_list import ProcessingList

    processing = ProcessingList(queue.client, queue.keys, "web-timing-filler")
    now = time.time()
    for start in range(0, count, BURY_BATCH):
        size = min(BURY_BATCH, count - start)
        queue.enqueue_many([{"task": "app.billing:charge", "args": [start + i, "EUR"], "kwargs": {"retry": True}}
                            for i in range(size)])
        fetched, _, _, _ = processing.fetch(size)
        for offset, (job_id, _, _) in enumerate(fetched):
            kind, message, text = a_traceback(start + offset)
            error = {"type": kind, "message": message, "traceback": text, "worker": "web-timing-filler"}
            processing.bury(job_id, now - 86400 * (count - start - offset) / count, error)


def fill(queue: gjobs.Queue, ready: int, dead: int, delayed: int) -> Dict[str, float]:
    """Fill ``queue``; returns the seconds each part took."""
    took = {}
    started = time.perf_counter()
    fill_dead(queue, dead)
    took["dead"] = time.perf_counter() - started
    started = time.perf_counter()
    for n in range(delayed):
        queue.enqueue_in({"task": "app.mail:reminder", "args": [n]}, 3600 + 60 * n)
    took["delayed"] = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, ready, FILL_BATCH):
        queue.enqueue_many(
            [{"task": "app.mail:send_digest", "args": [n, f"user{n}@example.com"], "kwargs": {"locale": "en"}}
             for n in range(start, min(ready, start + FILL_BATCH))],
            chunk=2000,
        )
    took["ready"] = time.perf_counter() - started
    return took


# -- processes -------------------------------------------------------------------------------------------


class Process:
    """A command in its own process group, its output in a log file, stopped by :meth:`stop`."""

    def __init__(self, argv: List[str], directory: str, name: str, env: Optional[Dict[str, str]] = None) -> None:
        self.log_path = os.path.join(directory, f"{name}.log")
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(argv, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()


def wait_for(condition: Any, what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def gjobs_command(name: str) -> List[str]:
    """The console script ``name`` of this interpreter, else its module run by this interpreter."""
    script = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(script):
        return [script]
    main = "gjobs.cli.admin" if name == "gjobs" else "gjobs.cli.worker"
    return [sys.executable, "-c", f"import sys; from {main} import main; sys.exit(main())"]


def start_worker(url: str, directory: str, concurrency: int) -> Process:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, ROOT, os.environ.get("PYTHONPATH", "")]))
    argv = gjobs_command("gjobs-worker") + ["web_timing:hold", "--import", "web_timing", "--redis-url", url,
                                            "--queue", BIG, "--queue", EMPTY, "--concurrency", str(concurrency),
                                            "--heartbeat-interval", "1", "--shutdown-timeout", "0"]
    return Process(argv, directory, "worker", env)


def start_web(url: str, directory: str, prefix: str) -> Tuple[Process, str]:
    """``gjobs web`` on ``prefix``; the process and the address it serves (host:port)."""
    argv = gjobs_command("gjobs") + ["web", "--bind", "127.0.0.1:0", "--redis-url", url, "--prefix", prefix,
                                     "--auth", TOKEN]
    web = Process(argv, directory, f"web-{prefix}", dict(os.environ, PYTHONPATH=ROOT))

    def served() -> Optional[str]:
        if not web.alive():
            raise RuntimeError(f"gjobs web exited:\n{web.log()}")
        for line in web.log().splitlines():
            if line.startswith("gjobs web: serving http://"):
                return line.split()[3][len("http://"):].rstrip("/")
        return None

    return web, wait_for(served, f"gjobs web on {prefix} to start")


# -- timing ----------------------------------------------------------------------------------------------


def pages(client: Any, queue: gjobs.Queue, deep: int) -> List[Tuple[str, str]]:
    """``(name, path)`` of every page to time on ``queue``."""
    name = queue.prefix
    dead = queue.dead_set.size()
    last_dead = max(0, (dead - 1) // 20 * 20)
    ready = queue.ready_list.size()
    deep_ready = min(deep, max(0, ready - 20))
    deep_id = client.lindex(queue.keys.ready, -(deep_ready + 1)) if ready else None
    dead_ids = queue.dead_set.entries(1, 0)
    return [
        ("overview", "/"),
        ("queue, first page", f"/queues/{name}"),
        (f"queue, ready={deep_ready}", f"/queues/{name}?ready={deep_ready}"),
        ("dead, first page", f"/queues/{name}/dead"),
        (f"dead, last page ({last_dead})", f"/queues/{name}/dead?offset={last_dead}"),
        (f"job, ready #{deep_ready}" if deep_id else "job, unknown id",
         f"/queues/{name}/jobs/{deep_id.decode() if deep_id else 'no-such-job'}"),
        ("job, dead" if dead_ids else "job, unknown id (2)",
         f"/queues/{name}/jobs/{dead_ids[0].id if dead_ids else 'no-such-job-either'}"),
        ("workers", "/workers"),
        ("schedules", "/schedules"),
        ("metrics", "/metrics"),
    ]


def time_pages(address: str, paths: List[Tuple[str, str]], runs: int, keep_alive: bool) -> List[Dict[str, Any]]:
    """Fetch each page once to warm up, then ``runs`` times, the pages taking turns."""
    host, port = address.rsplit(":", 1)
    kept = http.client.HTTPConnection(host, int(port), timeout=120)
    samples: Dict[str, List[float]] = {name: [] for name, _ in paths}
    seen: Dict[str, Tuple[int, int]] = {}
    for run in range(runs + 1):
        for name, path in paths:
            started = time.perf_counter()
            connection = kept if keep_alive else http.client.HTTPConnection(host, int(port), timeout=120)
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            if not keep_alive:
                connection.close()
            took = (time.perf_counter() - started) * 1000
            seen[name] = (response.status, len(body))
            if run:
                samples[name].append(took)
    kept.close()
    return [{"page": name, "path": path, "status": seen[name][0], "bytes": seen[name][1], **summary(samples[name])}
            for name, path in paths]


def summary(values: List[float]) -> Dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]
    return {"min": ordered[0], "median": statistics.median(ordered), "p95": p95, "max": ordered[-1]}


def table(title: str, rows: List[Dict[str, Any]]) -> str:
    lines = [title, f"{'page':<28} {'status':>6} {'KB':>6} {'min':>8} {'median':>8} {'p95':>8} {'max':>8}  (ms)"]
    for row in rows:
        lines.append(f"{row['page']:<28} {row['status']:>6} {row['bytes'] / 1024:>6.1f} {row['min']:>8.1f} "
                     f"{row['median']:>8.1f} {row['p95']:>8.1f} {row['max']:>8.1f}")
    return "\n".join(lines)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ready", type=int, default=1_000_000)
    parser.add_argument("--dead", type=int, default=10_000)
    parser.add_argument("--delayed", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=10, help="jobs the worker holds running")
    parser.add_argument("--deep", type=int, default=500_000, help="offset of the deep queue page and job")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep-alive", action="store_true", help="fetch over one kept-alive connection")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    args = parser.parse_args(argv)

    import redis

    from gjobs.embedded import RedisProcess

    directory = tempfile.mkdtemp(prefix="gjobs-web-timing-")
    server = RedisProcess().start()
    started: List[Process] = []
    try:
        client = redis.Redis(host="127.0.0.1", port=server.port)
        big, empty = gjobs.Queue(client, BIG), gjobs.Queue(client, EMPTY)
        took = fill(big, args.ready, args.dead, args.delayed)
        say(f"filled {BIG}: {args.dead} dead in {took['dead']:.1f} s, {args.delayed} delayed in "
                  f"{took['delayed']:.1f} s, {args.ready} ready in {took['ready']:.1f} s; "
                  f"redis-server uses {client.info('memory')['used_memory_human']}")
        worker = start_worker(server.url, directory, args.concurrency)
        started.append(worker)

        def holding() -> bool:
            if not worker.alive():
                raise RuntimeError(f"the worker exited:\n{worker.log()}")
            return (big.stats()["in_progress"] >= min(args.concurrency, args.ready)
                    and len(empty.stats()["workers"]) == 1 and big.schedules.count() == 20)

        wait_for(holding, "the worker to hold its jobs and declare its schedules")
        results: Dict[str, Any] = {"load_before": load(), "fill_seconds": took, "queues": {}}
        for queue in (big, empty):
            web, address = start_web(server.url, directory, queue.prefix)
            started.append(web)
            results["queues"][queue.prefix] = time_pages(address, pages(client, queue, args.deep), args.runs,
                                                             args.keep_alive)
            web.stop()
        results["load_after"] = load()
        results["counts"] = {q.prefix: {k: v for k, v in q.stats().items() if k != "workers"} for q in (big, empty)}
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            stats = results["counts"][BIG]
            how = "over one kept-alive connection" if args.keep_alive else "a connection each"
            print(table(f"\n{BIG}: {stats['ready']} ready, {stats['delayed']} delayed, {stats['dead']} dead, "
                        f"{stats['in_progress']} running; {args.runs} runs per page, {how}", results["queues"][BIG]))
            print(table(f"\n{EMPTY}: nothing queued (the worker is its only content)", results["queues"][EMPTY]))
            print(f"\nload average (1, 5, 15 min): {results['load_before']} before timing, "
                  f"{results['load_after']} after")
        shutil.rmtree(directory, ignore_errors=True)
        return 0
    finally:
        for process in started:
            process.stop()
        server.cleanup()
        if os.path.exists(directory):
            say(f"the logs of the worker and of gjobs web are in {directory}")


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
