#!/usr/bin/env python3
"""How fast many callers at once enqueue one job per ``Queue.enqueue`` call, and how long each waits.

    python3 scripts/enqueue_concurrency.py                    # the working tree's gjobs, 3 rounds
    python3 scripts/enqueue_concurrency.py --baseline HEAD    # against HEAD's gjobs, in the same run
    python3 scripts/enqueue_concurrency.py --rounds 5 --json results.json

Cases, each run in a fresh process on a private ``redis-server`` (one for the whole run):

``greenlets``  100 greenlets in one gevent-patched process (a gunicorn gevent worker under load),
               each enqueueing one job per call, back to back;
``threads``    16 plain threads, no gevent (a threaded WSGI server), the same;
``lone-gevent`` / ``lone-plain``  one caller alone, one call after the other (the latency of one
               enqueue when nobody else is enqueueing), patched and not.

Each reports jobs/s, the latency of a call (p50, p99), the Redis connections the queue's client
opened (``CLIENT LIST``, by client name) and the script calls Redis ran per job (``INFO
commandstats``: round trips per job). A warm-up of a few hundred calls comes first (connections,
script loading), then a full garbage collection and ``gc.freeze()``, as a preloading server
does. With ``--baseline REF`` the gjobs of REF (any git ref) is checked out in a temporary ``git
worktree`` (removed at the end) and every case runs for both, alternating A B A B within each
round so that the machine's other load hits both alike; the table gives the median of the rounds
and their range (min-max) for each, and current / baseline. Each child process checks that it
imported gjobs from the tree it was given.
"""

from __future__ import annotations

import sys

if __name__ == "__main__" and "--child" in sys.argv and "--gevent" in sys.argv:
    from gevent import monkey  # patched before redis or gjobs is imported, as a worker is

    monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from typing import Any, Callable, Dict, List, Optional  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: case -> (gevent-patched, callers, calls per caller)
CASES = {
    "greenlets": (True, 100, 300),
    "threads": (False, 16, 1000),
    "lone-gevent": (True, 1, 5000),
    "lone-plain": (False, 1, 5000),
}
CLIENT_NAME = "enqueue-concurrency"
WARM_UP = 300


def sample_job(n: int) -> Dict[str, Any]:
    return {"task": "app.mail:send_welcome", "args": [f"user{n}@example.com"], "kwargs": {"name": "Ann"}}


# -- one case, in a child process ---------------------------------------------------------------


def run_callers(patched: bool, callers: int, calls: int, enqueue: Callable[[int], Any]) -> tuple:
    """``callers`` greenlets (patched) or threads each making ``calls`` calls; (seconds, latencies)."""
    latencies: List[float] = []
    clock = time.perf_counter

    def loop() -> None:
        mine = []
        for n in range(calls):
            started = clock()
            enqueue(n)
            mine.append(clock() - started)
        latencies.extend(mine)

    started = clock()
    if patched:
        import gevent

        gevent.joinall([gevent.spawn(loop) for _ in range(callers)], raise_error=True)
    else:
        workers = [threading.Thread(target=loop) for _ in range(callers)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    return clock() - started, latencies


def child(case: str, url: str, root: str, scale: float) -> Dict[str, Any]:
    import redis

    import gjobs

    if not os.path.abspath(gjobs.__file__).startswith(os.path.join(root, "gjobs") + os.sep):
        raise SystemExit(f"imported {gjobs.__file__}, not the gjobs under {root}")
    patched, callers, calls = CASES[case]
    calls = max(10, int(calls * scale))
    client = redis.Redis.from_url(url, client_name=CLIENT_NAME, max_connections=1000)
    monitor = redis.Redis.from_url(url)
    queue = gjobs.Queue(client, prefix=f"concurrency-{uuid.uuid4().hex[:8]}")
    try:
        run_callers(patched, callers, max(1, WARM_UP // callers), lambda n: queue.enqueue(sample_job(n)))
        # The start-up's objects (imports) out of the collector's way: otherwise the first full
        # collection, 15-30 ms here, lands in the measured calls of one run in two, for either tree.
        gc.collect()
        gc.freeze()
        before = _script_calls(monitor)
        seconds, latencies = run_callers(patched, callers, calls, lambda n: queue.enqueue(sample_job(n)))
        calls_made = _script_calls(monitor) - before
        connections = sum(1 for c in monitor.client_list() if c.get("name") == CLIENT_NAME)
    finally:
        keys = queue.keys
        monitor.delete(keys.jobs, keys.ready, keys.delayed)
        client.close()
    latencies.sort()
    jobs = len(latencies)
    return {
        "case": case, "gjobs": os.path.dirname(gjobs.__file__), "jobs": jobs,
        "rate": jobs / seconds,
        "p50_ms": latencies[jobs // 2] * 1e3, "p99_ms": latencies[min(jobs - 1, int(jobs * 0.99))] * 1e3,
        "connections": connections, "calls_per_job": calls_made / jobs,
    }


def _script_calls(monitor: Any) -> int:
    stats = monitor.info("commandstats")
    return sum(int(stats.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in ("evalsha", "eval"))


# -- the orchestrator -----------------------------------------------------------------------------


class Worktree:
    """``ref`` checked out in a temporary ``git worktree``, removed by :meth:`remove`."""

    def __init__(self, ref: str) -> None:
        self.commit = _git("rev-parse", "--verify", "--end-of-options", f"{ref}^{{commit}}")
        self.label = f"gjobs@{self.commit[:9]}"
        self.parent = tempfile.mkdtemp(prefix="gjobs-concurrency-baseline-")
        self.root = os.path.join(self.parent, "tree")
        _git("worktree", "add", "--detach", self.root, self.commit)

    def remove(self) -> None:
        try:
            _git("worktree", "remove", "--force", self.root)
        except RuntimeError:
            _git("worktree", "prune")
        shutil.rmtree(self.parent, ignore_errors=True)


def _git(*args: str) -> str:
    done = subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"git {' '.join(args)}: {(done.stderr or done.stdout).strip()}")
    return done.stdout.strip()


def run_child(case: str, url: str, root: str, scale: float) -> Dict[str, Any]:
    patched = CASES[case][0]
    command = [sys.executable, os.path.abspath(__file__), "--child", case, "--url", url, "--root", root,
               "--scale", str(scale)] + (["--gevent"] if patched else [])
    env = dict(os.environ, PYTHONPATH=root)
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode:
        raise RuntimeError(f"{case} under {root} failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def spread(values: List[float], digits: int) -> str:
    """``median [min-max]`` of ``values``."""
    med = statistics.median(values)
    if len(values) == 1:
        return f"{med:,.{digits}f}"
    return f"{med:,.{digits}f} [{min(values):,.{digits}f}-{max(values):,.{digits}f}]"


METRICS = (("rate", "jobs/s", 0), ("p50_ms", "p50 ms", 3), ("p99_ms", "p99 ms", 2),
           ("connections", "connections", 0), ("calls_per_job", "script calls/job", 3))


def report(results: Dict[str, Dict[str, List[Dict[str, Any]]]], labels: List[str], cases: List[str]) -> None:
    for case in cases:
        patched, callers, _ = CASES[case]
        kind = "greenlets" if patched else "threads"
        print(f"\n{case}: {callers} {kind if callers > 1 else ('caller, gevent' if patched else 'caller, no gevent')}")
        ratio = "     current/baseline" if len(labels) > 1 else ""
        print(f"  {'':18s}" + "".join(f"{label:>34s}" for label in labels) + ratio)
        for key, name, digits in METRICS:
            cells = [spread([run[key] for run in results[label][case]], digits) for label in labels]
            line = f"  {name:18s}" + "".join(f"{cell:>34s}" for cell in cells)
            if len(labels) > 1:
                base = statistics.median([run[key] for run in results[labels[1]][case]])
                cur = statistics.median([run[key] for run in results[labels[0]][case]])
                line += f"     {cur / base:8.2f}x" if base else ""
            print(line)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enqueue_concurrency", description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", metavar="REF", help="also run REF's gjobs (a git ref), A B A B")
    parser.add_argument("--rounds", type=int, default=3, help="runs of every case (3); medians and ranges")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the calls per caller (1.0)")
    parser.add_argument("--redis-url", help="an existing Redis instead of a private redis-server")
    parser.add_argument("--json", metavar="FILE", help="also write every run's figures as JSON")
    parser.add_argument("--child", metavar="CASE", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--root", help=argparse.SUPPRESS)
    parser.add_argument("--gevent", action="store_true", help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.url, args.root, args.scale)))
        return 0
    cases = [case for case in args.cases.split(",") if case]
    unknown = [case for case in cases if case not in CASES]
    if unknown:
        print(f"enqueue_concurrency: unknown case(s) {', '.join(unknown)}", file=sys.stderr)
        return 2
    sys.path.insert(0, REPO)
    from gjobs.embedded import RedisProcess

    process = None if args.redis_url else RedisProcess().start()
    url = args.redis_url or process.url  # type: ignore[union-attr]
    worktree = Worktree(args.baseline) if args.baseline else None
    roots = {f"working tree ({_git('rev-parse', '--short', 'HEAD')}+)": REPO}
    if worktree:
        roots[worktree.label] = worktree.root
    labels = list(roots)
    results: Dict[str, Dict[str, List[Dict[str, Any]]]] = {label: {case: [] for case in cases} for label in labels}
    try:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average "
              f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.rounds} rounds", flush=True)
        for round_ in range(args.rounds):
            for case in cases:
                for label in labels:
                    run = run_child(case, url, roots[label], args.scale)
                    results[label][case].append(run)
                    print(f"  round {round_ + 1} {case:12s} {label:32s} {run['rate']:9,.0f} jobs/s  "
                          f"p50 {run['p50_ms']:.3f} ms  p99 {run['p99_ms']:.2f} ms  "
                          f"{run['connections']} connections  {run['calls_per_job']:.3f} calls/job", flush=True)
        report(results, labels, cases)
        print(f"\nload average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.json:
            with open(args.json, "w") as out:
                json.dump({"labels": labels, "results": results}, out, indent=1)
    finally:
        if worktree:
            worktree.remove()
        if process is not None:
            process.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
