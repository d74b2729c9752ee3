"""``gjobs-worker --demo``: sample jobs flowing through a private Redis, then exit.

It needs no Redis server of the user's: it starts a private ``redis-server`` when one is
installed, else uses fakeredis (when installed), and shows immediate, delayed and
failing-then-succeeding jobs passing through, with the status line.
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from typing import Any, Dict, List, Set

import gevent

from . import clock
from .connection import connect, redact
from .embedded import RedisProcess, available
from .server import Server

logger = logging.getLogger("gjobs.demo")

#: Seconds the demo waits for its jobs before it gives up (exit status 1).
DEMO_DEADLINE = 60.0


class DemoDelegate:
    """Runs the sample jobs: sleeps a little, and fails the first attempt of ``flaky`` jobs."""

    def __init__(self) -> None:
        self.failed_once: Set[str] = set()

    def call(self, job: Dict[str, Any]) -> None:
        gevent.sleep(job.get("work", 0.05))
        if job.get("flaky") and job["name"] not in self.failed_once:
            self.failed_once.add(job["name"])
            raise RuntimeError(f"{job['name']}: a failure on purpose; the retry will succeed")
        logger.info("ran %s (%s)", job["name"], job["kind"])


def sample_jobs() -> List[Dict[str, Any]]:
    now = clock.now()
    jobs = [{"name": f"now-{i}", "kind": "immediate", "work": 0.02 * i} for i in range(1, 9)]
    jobs += [{"name": f"later-{i}", "kind": f"delayed {i * 0.5:g} s", "scheduled_at": now + i * 0.5}
             for i in range(1, 5)]
    jobs += [{"name": f"flaky-{i}", "kind": "fails once, then succeeds", "flaky": True} for i in range(1, 4)]
    return jobs


def _client(url: str | None) -> tuple[Any, Any, str]:
    """A client, the private server to clean up (or None), and a description."""
    if url:
        return connect(url), None, redact(url)
    if available():
        process = RedisProcess().start()
        return connect(process.url), process, f"a private redis-server on port {process.port}"
    try:
        import fakeredis
    except ImportError:
        raise RuntimeError("--demo needs redis-server or fakeredis installed, or --redis-url") from None
    return fakeredis.FakeRedis(server=fakeredis.FakeServer()), None, "fakeredis (in memory)"


def run_demo(args: argparse.Namespace) -> int:
    url = args.redis_url or os.environ.get("REDIS_URL")
    client, process, where = _client(url)
    try:
        prefix = args.prefix if args.prefix != "gjobs" else f"gjobs-demo-{os.getpid()}"
        server = Server(DemoDelegate(), client, prefix=prefix, resolution=args.resolution,
                        concurrency=args.concurrency, heartbeat_interval=args.heartbeat_interval,
                        backoff=lambda attempt: 1.0)
        logger.info("demo: queue %r on %s", prefix, where)
        server.start()
        try:
            jobs = sample_jobs()
            for job in jobs:
                server.call(job)
            logger.info("demo: enqueued %d jobs: 8 immediate, 4 delayed, 3 that fail once", len(jobs))
            deadline = time.monotonic() + DEMO_DEADLINE
            while server.queue.completed_count() < len(jobs):
                logger.info("status %s", server.status_string())
                if time.monotonic() > deadline:
                    logger.error("demo: jobs did not finish within %g s", DEMO_DEADLINE)
                    return 1
                gevent.sleep(0.5)
            logger.info("status %s", server.status_string())
            logger.info("demo: all %d jobs completed", len(jobs))
        finally:
            server.stop(timeout=5)
            if prefix != args.prefix:  # a queue of the demo's own: leave nothing of it behind
                server.queue.purge_dead()
                server.queue.control.purge()
                server.queue.control.forget()
        return 0
    finally:
        if process is not None:
            process.cleanup()
