"""The job store: one hash holding every accepted job's payload, and the attempts it has used.

A payload is written by the enqueue scripts together with its id and deleted only when the job
completes or a dead job is purged, so an id anywhere in the queue always has its payload.
"""

from __future__ import annotations

from typing import Any, Iterable, List, Optional, cast

from .keys import Keys


class JobStore:
    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def get(self, job_id: str) -> Optional[bytes]:
        """The encoded job, or None if there is no such job."""
        return cast(Optional[bytes], self.client.hget(self.keys.jobs, job_id))

    def get_many(self, job_ids: Iterable[str]) -> List[Optional[bytes]]:
        ids = list(job_ids)
        return self.client.hmget(self.keys.jobs, ids) if ids else []

    def attempts(self, job_id: str) -> int:
        """Attempts started so far (0 for a job that never ran or has completed)."""
        return int(self.client.hget(self.keys.attempts, job_id) or 0)

    def attempts_many(self, job_ids: Iterable[str]) -> List[int]:
        ids = list(job_ids)
        return [int(n or 0) for n in self.client.hmget(self.keys.attempts, ids)] if ids else []

    def size(self) -> int:
        """Jobs stored: ready, delayed, in progress and dead."""
        return int(self.client.hlen(self.keys.jobs))
