"""The delayed set: ids of jobs due later, scored by their due time in epoch seconds.

Scores keep sub-second precision. Jobs are promoted to the ready list in bounded batches, and
scheduling a job that is due before all others publishes a wake-up so that promoters sleeping
until the previous earliest job (in this process or any other) wake in time. "Due" is judged by
Redis's clock (``TIME``), the one clock every worker shares, and a delay (``enqueue_in``) counts
from Redis's now, whatever the clocks of the producer and the workers say.
"""

from __future__ import annotations

from typing import Any, List, Optional, Sequence, Tuple, Union

from . import scripts
from .keys import Keys

#: Ids moved per promote call: small enough that one call never blocks Redis for long.
PROMOTE_BATCH = 1000


class DelayedJobs:
    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._schedule = scripts.register(client, "schedule")
        self._promote = scripts.register(client, "promote")

    def add(self, entries: Sequence[Tuple[str, Union[float, str], bytes]], client: Any = None) -> Any:
        """Store ``(id, due, payload)`` triples and schedule them, in one atomic call. ``due`` is
        epoch seconds, or ``"+SECONDS"`` for that long after Redis's now (see :func:`due_in`)."""
        args: List[Union[str, bytes]] = [self.keys.wakeup]
        for job_id, due, payload in entries:
            args += (job_id, due if isinstance(due, str) else repr(float(due)), payload)
        return self._schedule(keys=[self.keys.jobs, self.keys.delayed], args=args, client=client)

    def promote(
        self, now: Optional[float] = None, limit: int = PROMOTE_BATCH
    ) -> Tuple[int, Optional[float]]:
        """Move up to ``limit`` ids due at ``now`` (Redis's now when None) to the ready list.

        Returns how many moved and the due time of the earliest job still waiting (None when
        none is).
        """
        moved, following, _ = self._promote_once(now, limit)
        return moved, following

    def promote_all(
        self, now: Optional[float] = None, limit: int = PROMOTE_BATCH
    ) -> Tuple[int, Optional[float], float]:
        """Promote every id due at ``now``, ``limit`` per call. Returns how many moved, the due
        time of the earliest job still waiting (or None), and the time due was judged at."""
        total = 0
        while True:
            moved, following, at = self._promote_once(now, limit)
            total += moved
            if moved < limit:
                return total, following, at

    def _promote_once(self, now: Optional[float], limit: int) -> Tuple[int, Optional[float], float]:
        moved, following, at = self._promote(
            keys=[self.keys.delayed, self.keys.ready], args=["" if now is None else repr(now), limit]
        )
        return int(moved), (float(following) if following else None), float(at)

    def size(self) -> int:
        return int(self.client.zcard(self.keys.delayed))

    def next_due(self) -> Optional[float]:
        """Due time of the earliest delayed job, or None."""
        first = self.client.zrange(self.keys.delayed, 0, 0, withscores=True)
        return float(first[0][1]) if first else None


def due_in(seconds: float) -> str:
    """The due of a job ``seconds`` after Redis's now, as :meth:`DelayedJobs.add` takes it."""
    return f"+{float(seconds)!r}"
