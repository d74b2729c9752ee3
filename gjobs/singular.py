"""Enqueueing a job that must not be stored twice: under the caller's own id (safe to retry after
a lost reply), or holding a unique key (one job per key while it is queued or running)."""

from __future__ import annotations

from typing import Any

from . import scripts
from .keys import Keys, text


class Singular:
    """The two scripts that store a job at most once, for the queue ``keys``."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.keys = keys
        self._once = scripts.register(client, "enqueue_once")
        self._unique = scripts.register(client, "enqueue_unique")

    def by_id(self, job_id: str, payload: bytes, when: str, memory: float) -> str:
        """Store the job as ``job_id`` unless that id was enqueued in the last ``memory`` seconds
        or is still queued; ``when`` is '' (now), epoch seconds or '+SECONDS'. Returns the id."""
        keys = self.keys
        self._once(keys=[keys.jobs, keys.ready, keys.delayed, keys.ids],
                   args=[job_id, payload, when, memory, keys.wakeup])
        return job_id

    def unique(self, job_id: str, payload: bytes, when: str, key: str, hold: float) -> str:
        """Store the job as ``job_id`` holding ``key`` (for ``hold`` seconds at most) unless a job
        holding it is queued or running; returns the id of the job that holds it."""
        keys = self.keys
        return text(self._unique(
            keys=[keys.jobs, keys.ready, keys.delayed, keys.unique, keys.unique_of, keys.unique_until],
            args=[job_id, payload, when, key, repr(float(hold)), keys.wakeup],
        ))
