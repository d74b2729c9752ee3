"""The tasks of the plain WSGI example: ``record`` notes a value, ``fail`` always fails."""

import os
import time

import gjobs

queue = gjobs.Queue.from_url(
    os.environ.get("REDIS_URL", "redis://localhost:6379/0"), prefix=os.environ.get("GJOBS_PREFIX", "gjobs")
)
#: The list ``record`` appends to, one per queue.
RESULTS = f"example:{queue.prefix}:results"


@queue.task
def record(value, pause=0.0):
    """Append ``value`` to the results list after ``pause`` seconds of (pretend) work."""
    time.sleep(pause)
    queue.client.rpush(RESULTS, value)


@queue.task(max_attempts=1)
def fail(message):
    """Fail with ``message``: with one attempt allowed, the job goes to the dead set."""
    raise RuntimeError(message)


def results():
    return [value.decode() for value in queue.client.lrange(RESULTS, 0, -1)]
