"""The dead set: jobs that used all their attempts or can never succeed, kept with their error.

A sorted set scores each id by when it died; a hash keeps its JSON error record; the payload
stays in the job store and the attempt count in the attempts hash, so a dead job can be shown,
retried with a fresh count, or purged. The set is trimmed by count and age (like Sidekiq's
10,000 jobs / 6 months); every trim is logged, nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any, Dict, Iterable, Iterator, List, NamedTuple, Optional, Tuple

from . import clock, scripts
from .keys import Keys, text

logger = logging.getLogger("gjobs")

#: Dead jobs kept at most; the oldest beyond this are purged.
DEFAULT_MAX_COUNT = 10_000
#: Seconds a dead job is kept (about six months).
DEFAULT_MAX_AGE = 180 * 24 * 3600.0
#: Ids handled per script call when retrying or purging many.
BATCH = 500
#: Characters of a traceback kept in an error record (its end, where the error was raised).
TRACEBACK_LIMIT = 4000


def error_record(error: BaseException, worker_id: str, limit: int = TRACEBACK_LIMIT) -> Dict[str, Any]:
    """What the dead set keeps of an error: type, message, the end of the traceback, and where."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": trace[-limit:],
        "worker": worker_id,
    }


def worker_lost_record(worker_id: str, max_attempts: Optional[int], now: float) -> Dict[str, Any]:
    """The error record of a job buried because its worker stopped heartbeating while running it
    on its last attempt: the crash was the failure."""
    return {
        "type": "WorkerLost",
        "message": f"abandoned: worker {worker_id} stopped heartbeating while running it, "
        f"and no attempts were left (max_attempts {max_attempts})",
        "traceback": "",
        "worker": worker_id,
        "failed_at": now,
    }


class DeadJob(NamedTuple):
    id: str
    job: Optional[bytes]
    attempts: int
    error: Dict[str, Any]
    failed_at: float


class DeadSet:
    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._retry = scripts.register(client, "retry_dead")
        self._purge = scripts.register(client, "purge_dead")

    def size(self) -> int:
        return int(self.client.zcard(self.keys.dead))

    def entries(self, limit: int = 100, offset: int = 0) -> List[DeadJob]:
        """Dead jobs, most recent first, with their encoded payload and error record."""
        if limit <= 0:
            return []
        pairs = self.client.zrevrange(self.keys.dead, offset, offset + limit - 1, withscores=True)
        return self._describe(pairs)

    def get(self, job_id: str) -> Optional[DeadJob]:
        score = self.client.zscore(self.keys.dead, job_id)
        found = [] if score is None else self._describe([(job_id, score)])
        return found[0] if found else None

    def _describe(self, pairs: List[Tuple[Any, float]]) -> List[DeadJob]:
        ids = [text(member) for member, _ in pairs]
        if not ids:
            return []
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(self.keys.jobs, ids)
        pipe.hmget(self.keys.attempts, ids)
        pipe.hmget(self.keys.dead_errors, ids)
        payloads, attempts, errors = pipe.execute()
        # The ids were read one round trip earlier: one retried or purged meanwhile has lost its
        # error record (every burial writes one), and is no longer dead; leave it out.
        return [
            DeadJob(job_id, payload, int(count or 0), json.loads(error), float(score))
            for (job_id, (_, score), payload, count, error) in zip(ids, pairs, payloads, attempts, errors)
            if error is not None
        ]

    def ids(self) -> Iterator[str]:
        """Every dead id, oldest first, read in batches."""
        start = 0
        while True:
            batch = self.client.zrange(self.keys.dead, start, start + BATCH - 1)
            yield from (text(i) for i in batch)
            if len(batch) < BATCH:
                return
            start += BATCH

    def retry(self, job_ids: Optional[Iterable[str]] = None) -> int:
        """Move dead jobs (all when ``job_ids`` is None) to the ready list with attempts reset."""
        keys = [self.keys.dead, self.keys.dead_errors, self.keys.attempts, self.keys.ready]
        return self._in_batches(self._retry, keys, job_ids)

    def purge(self, job_ids: Optional[Iterable[str]] = None) -> int:
        """Delete dead jobs (all when ``job_ids`` is None) with their payloads and errors."""
        keys = [self.keys.dead, self.keys.dead_errors, self.keys.attempts, self.keys.jobs]
        return self._in_batches(self._purge, keys, job_ids)

    def _in_batches(self, script: Any, keys: List[str], job_ids: Optional[Iterable[str]]) -> int:
        if job_ids is None:
            # Snapshot first: the script removes ids from the set we would be paging through.
            job_ids = list(self.ids())
        ids = list(job_ids)
        return sum(int(script(keys=keys, args=ids[i : i + BATCH])) for i in range(0, len(ids), BATCH))

    def buried(
        self, count: int, max_count: Optional[int] = DEFAULT_MAX_COUNT, max_age: Optional[float] = DEFAULT_MAX_AGE
    ) -> int:
        """Called after ``count`` jobs were buried: keeps the set within its bounds (see
        :meth:`trim`). The one place where a burial, by a failure or a recovery, trims."""
        return self.trim(max_count, max_age) if count else 0

    def trim(
        self,
        max_count: Optional[int] = DEFAULT_MAX_COUNT,
        max_age: Optional[float] = DEFAULT_MAX_AGE,
        now: Optional[float] = None,
    ) -> int:
        """Purge the dead jobs older than ``max_age`` seconds and the oldest beyond ``max_count``.

        Returns how many were purged, and logs it when any were.
        """
        victims: List[str] = []
        if max_age is not None:
            before = (clock.now() if now is None else now) - max_age
            victims += map(text, self.client.zrangebyscore(self.keys.dead, "-inf", f"({before!r}", 0, BATCH))
        if max_count is not None:
            excess = self.size() - max_count
            if excess > 0:
                victims += map(text, self.client.zrange(self.keys.dead, 0, min(excess, BATCH) - 1))
        purged = self.purge(dict.fromkeys(victims)) if victims else 0
        if purged:
            logger.warning(
                "dead set of %r trimmed: %d oldest dead jobs purged (keeping at most %s jobs, %s seconds)",
                self.keys.prefix, purged, max_count, max_age,
            )
        return purged
