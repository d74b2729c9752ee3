"""The delayed set: ids of jobs due later, scored by their due time in epoch seconds.

Scores keep sub-second precision. Jobs are promoted to the ready list in bounded batches, and
scheduling a job that is due before all others publishes a wake-up so that promoters sleeping
until the previous earliest job (in this process or any other) wake in time.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

from . import clock, scripts
from .keys import Keys

#: Ids moved per promote call: small enough that one call never blocks Redis for long.
PROMOTE_BATCH = 1000


class DelayedJobs:
    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._schedule = scripts.register(client, "schedule")
        self._promote = scripts.register(client, "promote")

    def add(self, entries: Sequence[Tuple[str, float, bytes]], client: Any = None) -> Any:
        """Store ``(id, due, payload)`` triples and schedule them, in one atomic call."""
        args = [self.keys.wakeup]
        for job_id, due, payload in entries:
            args += (job_id, repr(float(due)), payload)
        return self._schedule(keys=[self.keys.jobs, self.keys.delayed], args=args, client=client)

    def promote(
        self, now: Optional[float] = None, limit: int = PROMOTE_BATCH
    ) -> Tuple[int, Optional[float]]:
        """Move up to ``limit`` due ids to the ready list.

        Returns how many moved and the due time of the earliest job still waiting (None when
        none is).
        """
        when = clock.now() if now is None else now
        moved, following = self._promote(
            keys=[self.keys.delayed, self.keys.ready], args=[repr(when), limit]
        )
        return int(moved), (float(following) if following else None)

    def promote_all(
        self, now: Optional[float] = None, limit: int = PROMOTE_BATCH
    ) -> Tuple[int, Optional[float]]:
        """Promote every id due at ``now``, ``limit`` per call; same result as :meth:`promote`."""
        total = 0
        while True:
            moved, following = self.promote(now, limit)
            total += moved
            if moved < limit:
                return total, following

    def size(self) -> int:
        return self.client.zcard(self.keys.delayed)

    def next_due(self) -> Optional[float]:
        """Due time of the earliest delayed job, or None."""
        first = self.client.zrange(self.keys.delayed, 0, 0, withscores=True)
        return float(first[0][1]) if first else None
