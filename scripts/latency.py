#!/usr/bin/env python3
"""Time from ``Server.call(job)`` to the delegate starting, for immediate jobs, on real Redis.

Usage::

    python3 scripts/latency.py [--jobs 1000] [--warmup 50] [--concurrency 25]

It starts a private ``redis-server`` (``gjobs.embedded.RedisProcess``, on a free loopback port),
runs one :class:`gjobs.Server` on it in this process, and sends the jobs one at a time: each
``call()`` waits for the delegate to start before the next one is sent, so every job takes the
path of an idle worker (the blocking fetch wakes up, the fetch script runs, a greenlet is
spawned). It prints the median, 90th, 99th percentile and maximum in milliseconds. The warm-up
jobs (script loading, first connections) are not counted.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import List, Optional  # noqa: E402

import gevent.event  # noqa: E402

from gjobs import Server  # noqa: E402
from gjobs.connection import connect  # noqa: E402
from gjobs.embedded import RedisProcess  # noqa: E402


class Stamp:
    """A delegate that hands the time it started each job to whoever waits for that job."""

    def __init__(self) -> None:
        self.started: Optional[gevent.event.AsyncResult] = None

    def call(self, job: dict) -> None:
        self.started.set(time.perf_counter())


def measure(server: Server, delegate: Stamp, count: int) -> List[float]:
    """Seconds from ``call()`` to the delegate, for ``count`` jobs sent one at a time."""
    latencies = []
    for n in range(count):
        delegate.started = gevent.event.AsyncResult()
        sent = time.perf_counter()
        server.call({"n": n})
        latencies.append(delegate.started.get(timeout=10) - sent)
    return latencies


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000, help="jobs measured (default: 1000)")
    parser.add_argument("--warmup", type=int, default=50, help="jobs run first, not measured (default: 50)")
    parser.add_argument("--concurrency", type=int, default=25, help="the server's concurrency (default: 25)")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    with RedisProcess() as redis_process:
        client = connect(redis_process.url)
        delegate = Stamp()
        server = Server(delegate, client, prefix="latency", concurrency=args.concurrency)
        server.start()
        try:
            measure(server, delegate, args.warmup)
            latencies = sorted(seconds * 1000 for seconds in measure(server, delegate, args.jobs))
        finally:
            server.stop(timeout=5)
            client.close()
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(f"call() -> delegate start, immediate jobs one at a time, {len(latencies)} jobs, real redis-server:")
    print(f"  median {statistics.median(latencies):.3f} ms   p90 {cuts[89]:.3f} ms   "
          f"p99 {cuts[98]:.3f} ms   max {latencies[-1]:.3f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
