"""Liveness: this worker's heartbeat on one queue, and recovery of the workers that stopped beating.

Each tick of the worker's heartbeat thread beats for every queue the worker runs and recovers
the pending lists of that queue's dead workers: a worker whose last beat is older than two
intervals. Recovery is safe from many workers at once (one script checks and moves).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional, Sequence, Tuple

from .. import clock
from ..adapter import Network
from ..connection import close
from ..dead_set import DeadSet, worker_lost_record
from ..keys import Keys
from ..retries import RetryPolicy
from ..worker_registry import WorkerRegistry
from .heartbeat import Heartbeat

logger = logging.getLogger("gjobs")


class Liveness:
    """Beats as ``worker_id`` every ``interval`` seconds and recovers the others; ``info()`` is what
    each beat publishes about this worker."""

    def __init__(
        self, worker_id: str, interval: float, policy: RetryPolicy, info: Callable[[], dict],
        dead_max: Optional[int], dead_max_age: Optional[float],
    ) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self.policy = policy
        self.info = info
        self.dead_bounds = (dead_max, dead_max_age)
        self._registered = False

    def reset(self) -> None:
        """Forget the first beat: the next one registers the worker afresh (a new start)."""
        self._registered = False

    def beat(self, registry: WorkerRegistry, now: Optional[float] = None) -> None:
        """Record a heartbeat; warns when others had presumed this worker dead."""
        added = registry.beat(self.worker_id, clock.now() if now is None else now, self.info())
        if added and self._registered:
            logger.warning(
                "worker %s was presumed dead and its jobs were requeued; jobs running here may run twice",
                self.worker_id,
            )
        self._registered = True

    def recover(self, registry: WorkerRegistry, now: Optional[float] = None) -> int:
        """Requeue the jobs of every worker whose last beat is older than two intervals.

        Returns how many jobs were requeued or buried.
        """
        now = clock.now() if now is None else now
        before = now - 2 * self.interval
        handled = 0
        for worker_id in registry.stale(before):
            if worker_id == self.worker_id:
                continue
            error = worker_lost_record(worker_id, self.policy.max_attempts, now)
            result = registry.recover(worker_id, before, self.policy.max_attempts_arg, now, error)
            if result is None:
                continue
            requeued, buried = result
            handled += requeued + buried
            logger.warning(
                "worker %s stopped heartbeating: requeued %d of its jobs, %d went to the dead set",
                worker_id, requeued, buried,
            )
            DeadSet(registry.client, registry.keys).buried(buried, *self.dead_bounds)
        return handled

    def tick(self, registry: WorkerRegistry) -> None:
        """One heartbeat: beat, then recover; errors are logged, the next tick tries again."""
        try:
            self.beat(registry)
            self.recover(registry)
        except Exception as error:
            logger.warning("heartbeat of worker %s failed: %s: %s", self.worker_id, type(error).__name__, error)


def start_heartbeat(
    adapter: Network, client: Any, queues: Sequence[Tuple[Liveness, Keys]], interval: float
) -> Heartbeat:
    """Start the one heartbeat of a worker: every ``interval`` seconds it ticks the liveness of
    each of its queues, on a client of its own (the adapter's), closed in its thread at the end."""
    own = adapter.heartbeat_client(client)
    ticks = [(liveness, WorkerRegistry(own, keys)) for liveness, keys in queues]

    def tick() -> None:
        for liveness, registry in ticks:
            liveness.tick(registry)

    def end() -> None:
        if own is not client:
            close(own)  # in the heartbeat's own thread, where its connections live

    heartbeat = Heartbeat(tick, interval, adapter.threaded, on_exit=end)
    heartbeat.start()
    return heartbeat
