"""No queue, but one fetch round trip per job: ``concurrency`` greenlets that each move one id
from a Redis list to another (one ``LMOVE``) before every run of the job body.

A job system that takes a job only for a free slot makes a freed slot wait at least one round
trip to Redis, under the load of the jobs running, before its next job starts. This loop pays
that wait and nothing else, one fetch per job: a queue with no cost of its own. It is a
reference for the sleeping workloads at concurrency 100, not a bound: a queue that fetches in
batches makes fewer calls than this loop does, and can beat it.
"""

LABEL = "gevent + one fetch per job"
GEVENT = True
READY, TAKEN = "bench:fetch:ready", "bench:fetch:taken"

from .sys_bare import version  # noqa: E402,F401  (gevent's, as for the loop without a fetch)


def enqueue(url: str, n: int) -> dict:
    import redis

    client = redis.Redis.from_url(url)
    for start in range(0, n, 10_000):
        client.rpush(READY, *range(start, min(n, start + 10_000)))
    return {}


def work(cfg: dict, probe) -> None:
    import redis

    from . import sys_bare

    # One connection per greenlet, as the job body's own client has (redis-py 8 caps a pool at 100).
    client = redis.Redis.from_url(cfg["url"], max_connections=cfg["concurrency"])
    sys_bare.work(cfg, probe, before=lambda: client.lmove(READY, TAKEN, "RIGHT", "LEFT"))
