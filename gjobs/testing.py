"""Helpers for an application's own tests.

:func:`eager` makes ``Task.delay()`` (and ``enqueue_at``/``enqueue_in``) run the task inline, with
the same argument checks as a real enqueue and the arguments as a worker would see them (through
JSON), and no Redis at all. Its errors propagate to the caller.

:func:`run_jobs` runs every ready and due job of a queue in this process with a real
:class:`~gjobs.Worker`, until nothing is left, on fakeredis or a real Redis, so that a test can
enqueue the way the application does and then assert on the effects. A job that failed raises
:class:`JobsFailed` with the dead records.

    def test_signup_sends_a_welcome_mail(client):
        client.post("/signup", data={"email": "ann@example.com"})
        gjobs.testing.run_jobs(queue)
        assert outbox == ["ann@example.com"]
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, Dict, Iterator, List, Optional, Tuple

import gevent

from . import clock, tasks
from .dead_set import DeadJob
from .keys import text
from .tasks import TaskRunner
from .worker.worker import Worker

#: Seconds between two looks at whether the queue is empty.
POLL = 0.01


class JobsFailed(AssertionError):
    """Jobs that ran under :func:`run_jobs` failed for good; ``dead`` has their records."""

    def __init__(self, dead: List[DeadJob]) -> None:
        lines = [f"{entry.id}: {entry.error.get('type')}: {entry.error.get('message')}" for entry in dead]
        super().__init__(f"{len(dead)} job(s) failed:\n" + "\n".join(lines))
        self.dead = dead


class EagerResult(str):
    """What ``delay()`` returns in eager mode: a made-up id (a ``str``) holding the result."""

    def __new__(cls, value: Any, name: str) -> "EagerResult":
        made = super().__new__(cls, f"eager:{name}")
        made.value = value
        return made

    value: Any

    def result(self, timeout: Optional[float] = None) -> Any:
        return self.value


@contextlib.contextmanager
def eager() -> Iterator[None]:
    """Within the block, tasks run inline when enqueued (see the module's text)."""
    previous = tasks.eager_runner
    tasks.eager_runner = _run_inline
    try:
        yield
    finally:
        tasks.eager_runner = previous


def _run_inline(task: "tasks.Task", args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> EagerResult:
    job = json.loads(json.dumps(task.job(args, kwargs)))  # the checks, and what a worker would see
    return EagerResult(task.fn(*job["args"], **job["kwargs"]), task.name)


def run_jobs(queue: Any, delegate: Any = None, *, delayed: bool = False, timeout: float = 30.0,
             raise_failures: bool = True, **options: Any) -> int:
    """Run the jobs of ``queue`` (a :class:`~gjobs.Queue`) until nothing is ready, due or running
    (jobs enqueued by those jobs included); with ``delayed``, delayed jobs run now too, else they
    wait for their time. Returns how many jobs completed. ``delegate`` defaults to a
    :class:`~gjobs.TaskRunner` of the registered tasks; ``options`` go to the
    :class:`~gjobs.Worker` (``max_attempts`` is 1 unless given, so that a failure shows at once).
    Raises :class:`JobsFailed` when jobs died meanwhile (unless ``raise_failures`` is False), and
    ``TimeoutError`` when the queue is not done within ``timeout`` seconds.
    """
    if delayed:
        while queue.control.run_now([text(m) for m in queue.client.zrange(queue.keys.delayed, 0, 499)]):
            pass
    options.setdefault("max_attempts", 1)
    options.setdefault("block_timeout", 0.05)
    dead_before = {entry.id for entry in queue.dead(limit=1000)}
    completed_before = queue.completed_count()
    worker = Worker(delegate if delegate is not None else TaskRunner(), queue.client, [queue.prefix],
                    queue.coder, schedules=[], **options)
    worker.start()
    try:
        deadline = clock.monotonic() + timeout
        while not worker.idle():
            if clock.monotonic() > deadline:
                raise TimeoutError(f"queue {queue.prefix!r} still had jobs after {timeout} s: {worker.status_string()}")
            gevent.sleep(POLL)  # lets the worker's greenlets run, patched or not
    finally:
        worker.stop()
    died = [entry for entry in queue.dead(limit=1000) if entry.id not in dead_before]
    if died and raise_failures:
        raise JobsFailed(died)
    return int(queue.completed_count() - completed_before)
