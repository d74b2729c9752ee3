"""How long jobs run, per task: a histogram counted by each worker and added to Redis with its
heartbeat, so that recording costs a job no Redis call.

Each worker counts the run times of its jobs in memory (a bucket index by bisection, two
increments: well under a microsecond a job), and every heartbeat adds what it counted to the
queue's ``{prefix}:runtimes`` hash in one pipeline: ``TASK|I`` is the count of runs in bucket
``I`` (at most :data:`BOUNDS`\\ [I] seconds, past the last one for I = len(BOUNDS)), ``TASK|sum``
their total seconds. The counts only grow, so any number of exporters read the same histogram
(:mod:`gjobs.metrics`). A worker that dies loses at most one heartbeat's worth of counts; one
that stops adds its last counts as its heartbeat ends.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any, Dict, List, Optional, Tuple

from .keys import Keys, text

#: Upper bounds in seconds of the buckets (Prometheus's default ones); one more bucket is open.
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)
FIRST = BOUNDS[0]
#: Where a row of counts keeps the total seconds: after the buckets and the open one.
SUM = len(BOUNDS) + 1
#: The name under which the run times of jobs that are not tasks are counted.
NOT_A_TASK = "-"


class RunTimes:
    """The run times a worker counted on one queue since its last heartbeat."""

    def __init__(self) -> None:
        self._counted: Dict[Optional[str], List[float]] = {}  # by task name; None: not a task

    def add(self, job: Any, seconds: float) -> None:
        """Count a run of ``job`` (its task's) that took ``seconds``."""
        try:
            row = self._counted[job.get("task") if type(job) is dict else None]
        except KeyError:  # the first run of its task here
            row = self._row(job)
        # A float to add and a positive index: CPython 3.11 has a fast path for each, which an
        # int added to a float and row[-1] miss (about 600 instructions a job, callgrind).
        row[0 if seconds <= FIRST else bisect_left(BOUNDS, seconds)] += 1.0
        row[SUM] += seconds

    def _row(self, job: Any) -> List[float]:
        task = job.get("task") if isinstance(job, dict) else None
        key = task if isinstance(task, str) else None
        row = self._counted.get(key)
        if row is None:
            row = self._counted[key] = [0.0] * (SUM + 1)
        return row

    def flush(self, client: Any, keys: Keys) -> int:
        """Add what was counted to Redis (from the heartbeat's thread: taking the counts is one
        swap under the GIL); returns how many runs were added."""
        counted, self._counted = self._counted, {}
        # A copy at once (one step under the GIL): the job side may still add a first row to the
        # old dict; its increments of this instant may be lost, never a whole beat's counts.
        rows = list(counted.items())
        if not rows:
            return 0
        pipe = client.pipeline(transaction=False)
        runs = 0
        for task, row in rows:
            name = task if task is not None else NOT_A_TASK
            for index, count in enumerate(row[:-1]):
                if count:
                    pipe.hincrby(keys.runtimes, f"{name}|{index}", int(count))
                    runs += int(count)
            pipe.hincrbyfloat(keys.runtimes, f"{name}|sum", row[-1])
        pipe.execute()
        return runs


def read(client: Any, keys: Keys) -> Dict[str, Tuple[List[int], float]]:
    """``{task: (count per bucket, total seconds)}`` of queue ``keys``, as the workers added them."""
    found: Dict[str, Tuple[List[int], float]] = {}
    for field, value in client.hgetall(keys.runtimes).items():
        name, _, part = text(field).rpartition("|")
        counts, total = found.get(name, ([0] * (len(BOUNDS) + 1), 0.0))
        if part == "sum":
            total = float(value)
        elif part.isdigit() and int(part) <= len(BOUNDS):
            counts[int(part)] = int(value)
        found[name] = (counts, total)
    return found
