"""The job running now, as the job itself sees it: ``gjobs.current_job()``.

A running job can ask for its id, queue and attempt, and report its progress (a fraction done
and a short note), which ``queue.job(id)`` and ``gjobs job show`` then show. The job runner
notes which greenlet runs which job (one dict entry per run, the cheapest record there is: it
is paid by every job, asked or not), so concurrent jobs never see each other's; outside a job
:func:`current_job` returns None.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Optional, Tuple

from gevent import getcurrent

from . import clock
from .keys import Keys

#: Characters of a progress note kept at most.
NOTE_LIMIT = 200

#: greenlet -> (job id, the queue's keys, attempt, client) of the job it runs now; the job
#: runner adds and removes the entries.
running: Dict[Any, Tuple[str, Keys, int, Any]] = {}


class CurrentJob:
    """The job this greenlet runs: ``id``, ``queue`` (its prefix) and ``attempt`` (1 first)."""

    def __init__(self, job_id: str, keys: Keys, attempt: int, client: Any) -> None:
        self.id = job_id
        self.queue = keys.prefix
        self.attempt = attempt
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
