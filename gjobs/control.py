"""What an operator does to a queue's jobs: cancel one, pause and resume the queue, page through
what is ready or delayed, run delayed jobs now, and empty the queue.

Listings are paged (a page costs one range read and one payload read, never a whole-list read),
and every change is one script per job or per bounded batch.
"""

from __future__ import annotations

from typing import Any, Iterable, List, NamedTuple, Optional

from . import scripts
from .counts import BUCKET_TTL, minute_of
from .keys import QUEUES, Keys, text
from .processing_list import DEFAULT_KEEP_FINISHED_AGE

#: Jobs removed per call by :meth:`Control.purge`.
PURGE_BATCH = 500
#: Seconds a cancel request is kept for a job still queued or running.
CANCEL_MEMORY = 24 * 3600.0


class Listed(NamedTuple):
    """One job of a listing: its id, its decoded payload (None when gone), and when it is due
    (delayed jobs only)."""

    id: str
    job: Any
    due_at: Optional[float] = None


class Control:
    """The operator's actions on the queue ``keys`` through ``client``; payloads decoded by ``decode``."""

    def __init__(self, client: Any, keys: Keys, decode: Any) -> None:
        self.client = client
        self.keys = keys
        self._decode = decode
        self._cancel = scripts.register(client, "cancel")
        self._purge = scripts.register(client, "purge")
        self._run_now = scripts.register(client, "run_now")

    def cancel(self, job_id: str) -> bool:
        """Make ``job_id`` never run (again): a delayed or ready job is removed at once; a running
        one is stopped by its worker at its next yield point (``JobCancelled``, not a failure).
        Returns False when no such job is queued or running (unknown, finished or dead)."""
        keys = self.keys
        done = self._cancel(keys=[
            keys.jobs, keys.delayed, keys.dead, keys.attempts, keys.cancels, keys.finished, keys.unique,
            keys.unique_of, keys.cancelled,
        ], args=[job_id, keys.cancel, repr(CANCEL_MEMORY), int(2 * DEFAULT_KEEP_FINISHED_AGE * 1000)])
        return int(done) > 0

    def pause(self) -> None:
        """Workers stop taking jobs from this queue (within a block timeout); enqueues go on."""
        self.client.set(self.keys.paused, 1)

    def resume(self) -> None:
        self.client.delete(self.keys.paused)

    def paused(self) -> bool:
        return bool(self.client.exists(self.keys.paused))

    def ready(self, limit: int = 20, offset: int = 0) -> List[Listed]:
        """Ready jobs, the next to run first, ``limit`` of them after the first ``offset``."""
        if limit <= 0:
            return []
        ids = [text(i) for i in reversed(self.client.lrange(self.keys.ready, -(offset + limit), -(offset + 1)))]
        return [Listed(job_id, job) for job_id, job in zip(ids, self._payloads(ids))]

    def delayed(self, limit: int = 20, offset: int = 0) -> List[Listed]:
        """Delayed jobs, the soonest due first, ``limit`` of them after the first ``offset``."""
        if limit <= 0:
            return []
        pairs = self.client.zrange(self.keys.delayed, offset, offset + limit - 1, withscores=True)
        ids = [text(member) for member, _ in pairs]
        return [Listed(job_id, job, float(due)) for job_id, job, (_, due) in zip(ids, self._payloads(ids), pairs)]

    def _payloads(self, ids: List[str]) -> List[Any]:
        payloads = self.client.hmget(self.keys.jobs, ids) if ids else []
        return [self._decode(payload) for payload in payloads]

    def run_now(self, job_ids: Iterable[str]) -> int:
        """Move delayed jobs to the front of the ready list; returns how many were delayed."""
        ids = list(job_ids)
        keys = [self.keys.delayed, self.keys.ready]
        batches = (ids[i : i + PURGE_BATCH] for i in range(0, len(ids), PURGE_BATCH))
        return sum(int(self._run_now(keys=keys, args=batch)) for batch in batches)

    def purge(self) -> int:
        """Empty the queue: remove every ready and delayed job (running ones end as they will, dead
        ones stay: see the dead set). Returns how many were removed."""
        keys = self.keys
        script_keys = [keys.ready, keys.delayed, keys.jobs, keys.attempts, keys.unique, keys.unique_of]
        total = 0
        while True:
            removed = int(self._purge(keys=script_keys, args=[PURGE_BATCH]))
            total += removed
            if not removed:
                return total

    def forget(self) -> bool:
        """Drop the queue from the list of known queues (``gjobs stats``) and delete its counters and
        records, once nothing waits or runs in it. False (nothing done) while it has jobs or
        workers."""
        keys = self.keys
        pipe = self.client.pipeline(transaction=False)
        for key in (keys.ready, keys.delayed, keys.workers, keys.dead):
            pipe.exists(key)
        if any(pipe.execute()):
            return False
        self.client.delete(
            keys.completed, keys.missing, keys.cancelled, keys.expired, keys.finished, keys.finished_old,
            keys.ids, keys.unique, keys.unique_of, keys.unique_until, keys.cancels, keys.paused, keys.jobs,
            keys.attempts, keys.progress, keys.dead_errors, keys.workers_info, keys.retried, keys.buried, keys.runtimes,
            keys.cron, keys.cron_payloads, keys.cron_leases, keys.cron_last, keys.cron_jobs, keys.cron_paused,
        )
        seconds, _ = self.client.time()  # the minute counts still kept: those of the last two hours
        last = minute_of(seconds) + 1
        self.client.delete(*(keys.minute(m) for m in range(last - BUCKET_TTL // 60 - 2, last + 1)))
        self.client.srem(QUEUES, keys.prefix)
        return True
