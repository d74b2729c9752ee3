"""Promoting: moving the due jobs of every queue of a worker from its delayed set to its ready list.

One promoter serves all the queues of a worker, on one pub/sub connection: it promotes what is
due, then sleeps until the earliest job still waiting is due, ``resolution`` seconds at most, or
until a wake-up is published on any of its queues' channels (a job scheduled before all others,
by any process).
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from ..delayed_jobs import DelayedJobs
from .loop import Loop


class Promoter:
    """Promotes the jobs of ``delayed`` (one :class:`DelayedJobs` per queue) through ``client``."""

    def __init__(self, client: Any, delayed: Sequence[DelayedJobs], resolution: float, worker_id: str) -> None:
        self.client = client
        self.delayed = list(delayed)
        self.resolution = resolution
        self.loop = Loop("promote", worker_id, self.step)

    def promote(self, now: Optional[float] = None) -> float:
        """Promote every job due at ``now`` (Redis's now when None) on every queue; returns the
        seconds until the next one is due, ``resolution`` at most (0 when one is already due)."""
        wait = self.resolution
        for delayed in self.delayed:
            _, following, at = delayed.promote_all(now)
            if following is not None:
                wait = min(wait, max(0.0, following - at))
        return wait

    def step(self) -> None:
        """Promote and sleep, on a pub/sub connection that lives as long as the step."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(*(delayed.keys.wakeup for delayed in self.delayed))
            while True:
                with self.loop.in_call:
                    wait = self.promote()
                if wait > 0:
                    pubsub.get_message(timeout=wait)
                while pubsub.get_message(timeout=0) is not None:
                    pass
        finally:
            pubsub.close()
