"""A delegate that keeps the jobs it is given: for tests and examples."""

from __future__ import annotations

from typing import Any, List, Optional

import gevent.queue


class Buffer:
    """Collects jobs in memory, in the order they ran.

    ``pop(timeout=None)`` returns the next job, waiting up to ``timeout`` seconds (forever when
    None), and returns None when none came in time; it never raises on a timeout.
    """

    def __init__(self) -> None:
        self._jobs: gevent.queue.Queue = gevent.queue.Queue()

    def call(self, job: Any) -> None:
        self._jobs.put(job)

    def pop(self, timeout: Optional[float] = None) -> Any:
        try:
            return self._jobs.get(timeout=timeout)
        except gevent.queue.Empty:
            return None

    def empty(self) -> bool:
        return bool(self._jobs.empty())

    def drain(self) -> List[Any]:
        """Every job kept so far, without waiting."""
        jobs = []
        while not self._jobs.empty():
            jobs.append(self._jobs.get_nowait())
        return jobs

    def __len__(self) -> int:
        return int(self._jobs.qsize())
