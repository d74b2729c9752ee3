"""Promoting: moving the due jobs of every queue of a worker from its delayed set to its ready list.

One promoter serves all the queues of a worker, on one pub/sub connection: it promotes what is
due, then sleeps until the earliest job still waiting is due, ``resolution`` seconds at most, or
until a wake-up is published on any of its queues' channels (a job scheduled before all others,
by any process). The same connection hears the queues' cancel channels: a cancel asked for a
job running here reaches its runner within a moment.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence

from ..adapter import adapter_for
from ..delayed_jobs import DelayedJobs
from .loop import Loop


class Promoter:
    """Promotes the jobs of ``delayed`` (one :class:`DelayedJobs` per queue) through ``client``."""

    def __init__(
        self, client: Any, delayed: Sequence[DelayedJobs], resolution: float, worker_id: str,
        cancels: Optional[Dict[str, Callable[[str], Any]]] = None,
    ) -> None:
        self.client = client
        self.adapter = adapter_for(client)
        self.delayed = list(delayed)
        self.resolution = resolution
        #: cancel channel -> what to call with the id of a job whose cancel was asked
        self.cancels = dict(cancels or {})
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

    def _heard(self, message: Dict[str, Any]) -> None:
        channel: Any = message.get("channel")
        channel = channel.decode() if isinstance(channel, bytes) else channel
        cancel = self.cancels.get(channel)
        if cancel is not None:
            data = message.get("data")
            cancel(data.decode() if isinstance(data, bytes) else str(data))

    def step(self) -> None:
        """Promote and sleep, on a pub/sub connection that lives as long as the step."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(*(delayed.keys.wakeup for delayed in self.delayed), *self.cancels)
            while True:
                with self.loop.in_call:
                    wait = self.promote()
                message = self.adapter.listen(pubsub, wait) if wait > 0 else None
                while message is not None:
                    self._heard(message)
                    message = pubsub.get_message(timeout=0)
        finally:
            pubsub.close()
