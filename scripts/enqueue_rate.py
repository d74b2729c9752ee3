"""How fast one process enqueues: ``Queue.enqueue``, ``Queue.enqueue_many`` and ``Task.delay``.

    python3 scripts/enqueue_rate.py                      # a private redis-server on a free port
    python3 scripts/enqueue_rate.py --jobs 50000 --many 500000 --chunk 1000
    python3 scripts/enqueue_rate.py --redis-url redis://localhost:6379/0   # uses a throwaway prefix

Producers are usually plain threads or scripts, so nothing is patched by gevent here: this is
the synchronous client as a web request or a cron job uses it. Prints one line per method with
jobs per second; the keys it wrote are deleted at the end. Many callers enqueueing at once (100
greenlets, 16 threads), with latencies, connections and a baseline to compare with:
``scripts/enqueue_concurrency.py``.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from typing import List, Optional

import gjobs
from gjobs.connection import connect, redact
from gjobs.embedded import RedisProcess
from gjobs.queue import ENQUEUE_CHUNK


def send_welcome(to: str, name: str = "") -> None:
    """The task whose jobs are enqueued (it never runs here)."""


def sample_job(n: int) -> dict:
    return {"task": "app.mail:send_welcome", "args": [f"user{n}@example.com"], "kwargs": {"name": "Ann"}}


def rate(count: int, seconds: float) -> str:
    return f"{count:>9,} jobs in {seconds:6.2f} s = {count / seconds:>9,.0f} jobs/s"


def measure(queue: gjobs.Queue, jobs: int, many: int, chunk: int) -> List[str]:
    lines = []
    started = time.perf_counter()
    for n in range(jobs):
        queue.enqueue(sample_job(n))
    lines.append(f"enqueue       {rate(jobs, time.perf_counter() - started)}  (one round trip each)")

    batch = [sample_job(n) for n in range(many)]
    started = time.perf_counter()
    queue.enqueue_many(batch, chunk=chunk)
    lines.append(f"enqueue_many  {rate(many, time.perf_counter() - started)}  (chunks of {chunk})")

    task = queue.task(send_welcome, name="app.mail:send_welcome")
    started = time.perf_counter()
    for n in range(jobs):
        task.delay(f"user{n}@example.com", name="Ann")
    lines.append(f"Task.delay    {rate(jobs, time.perf_counter() - started)}  (arguments checked, one round trip each)")
    return lines


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="enqueue_rate", description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000, help="jobs for enqueue and Task.delay (20,000)")
    parser.add_argument("--many", type=int, default=200_000, help="jobs for enqueue_many (200,000)")
    parser.add_argument("--chunk", type=int, default=ENQUEUE_CHUNK, help=f"enqueue_many chunk ({ENQUEUE_CHUNK})")
    parser.add_argument("--redis-url", help="an existing Redis instead of a private redis-server")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    process = None if args.redis_url else RedisProcess().start()
    url = args.redis_url or process.url
    client = connect(url)
    queue = gjobs.Queue(client, prefix=f"enqueue-rate-{uuid.uuid4().hex[:8]}")
    try:
        info = client.info("server")
        print(f"gjobs {gjobs.__version__}, redis-py with hiredis: {_hiredis()}, Redis {info['redis_version']} "
              f"at {redact(url)}, Python {sys.version.split()[0]}")
        for line in measure(queue, args.jobs, args.many, args.chunk):
            print(line)
    finally:
        keys = queue.keys
        client.delete(keys.jobs, keys.ready, keys.delayed)
        if process is not None:
            process.cleanup()
    return 0


def _hiredis() -> str:
    try:
        import hiredis  # noqa: F401
    except ImportError:
        return "no"
    return "yes"


if __name__ == "__main__":
    sys.exit(main())
