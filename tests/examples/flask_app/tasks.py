"""The task module of the Flask example."""

import os

import gjobs

queue = gjobs.Queue.from_url(
    os.environ.get("REDIS_URL", "redis://localhost:6379/0"), prefix=os.environ.get("GJOBS_PREFIX", "gjobs")
)


@queue.task(max_attempts=5, timeout=30)
def count_visit(page):
    """Count a visit of ``page`` (stands for slow work a request should not wait for)."""
    queue.client.hincrby(f"example:{queue.prefix}:visits", page, 1)
