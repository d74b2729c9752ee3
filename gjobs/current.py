"""The job running now, as the job itself sees it: ``gjobs.current_job()``.

A running job can ask for its id, queue and attempt, and report its progress (a fraction done
and a short note), which ``queue.job(id)`` and ``gjobs job show`` then show. The job runner
notes which greenlet runs which job (one dict entry per run, the cheapest record there is: it
is paid by every job, asked or not), so concurrent jobs never see each other's; outside a job
:func:`current_job` returns None. The same entries say since when each job runs: the worker's
heartbeat publishes them, as Sidekiq's does for its busy jobs, so no job pays a Redis write
for it.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

from gevent import getcurrent

from . import clock
from .keys import Keys

#: Characters of a progress note kept at most.
NOTE_LIMIT = 200
#: Running jobs whose start time one heartbeat publishes per queue at most (the oldest).
RUNNING_LIMIT = 1000

#: greenlet -> (job id, the queue's keys, attempt, client, when it started by Redis's clock) of
#: the job it runs now; the job runner adds and removes the entries, and each heartbeat
#: publishes the start times (:func:`running_since`).
running: Dict[Any, Tuple[str, Keys, int, Any, Optional[float]]] = {}


class CurrentJob:
    """The job this greenlet runs: ``id``, ``queue`` (its prefix), ``attempt`` (1 first) and
    ``started_at`` (when its run started, by Redis's clock)."""

    def __init__(self, job_id: str, keys: Keys, attempt: int, client: Any, started_at: Optional[float]) -> None:
        self.id = job_id
        self.queue = keys.prefix
        self.attempt = attempt
        self.started_at = started_at
        self._keys = keys
        self._client = client

    def progress(self, done: Optional[float] = None, note: str = "") -> None:
        """Record how far the job has come: ``done`` a fraction from 0 to 1 (or None), ``note``
        a short text (cut to :data:`NOTE_LIMIT` characters). One Redis write; the record goes
        when the job ends."""
        if done is not None and (isinstance(done, bool) or not isinstance(done, (int, float)) or not 0 <= done <= 1):
            raise ValueError(f"progress must be a fraction from 0 to 1, not {done!r}")
        if not isinstance(note, str):
            raise TypeError(f"a progress note must be a string, not {type(note).__name__}")
        record = {"done": done, "note": note[:NOTE_LIMIT], "at": clock.now()}
        self._client.hset(self._keys.progress, self.id, json.dumps(record))


def current_job() -> Optional[CurrentJob]:
    """The job running in this greenlet, or None outside a job."""
    entry = running.get(getcurrent())
    return None if entry is None else CurrentJob(*entry)


def running_since(keys: Keys, limit: int = RUNNING_LIMIT) -> Dict[str, float]:
    """``{id: when it started}`` of the jobs of queue ``keys`` running in this process, the
    ``limit`` oldest at most: what a heartbeat publishes, so that ``queue.job(id)`` can say since
    when a job runs without a write per job. Safe from the heartbeat's own thread: copying a
    dict is one step under the GIL."""
    entries = running.copy().values()
    since = sorted((start, job_id) for job_id, of, _, _, start in entries if of is keys and start is not None)
    return {job_id: start for start, job_id in since[:limit]}
