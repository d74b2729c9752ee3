"""Liveness: this worker's heartbeat on one queue, and recovery of the workers that stopped beating.

Each tick of the worker's heartbeat thread beats for every queue the worker runs and recovers
the pending lists of that queue's dead workers: a worker whose last beat is older than two
intervals. Recovery is safe from many workers at once (one script checks and moves).

Two things keep a live worker from looking dead. Beats and silences are judged by Redis's clock,
never a worker's own. And an outage of Redis that every worker suffered together (a restart, a
failover, a network blip) leaves every last beat old: a worker whose ticks failed recovers no one
for two intervals after it reaches Redis again, the time every live worker needs to beat again.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Optional, Sequence, Tuple

from .. import clock
from ..adapter import Network
from ..connection import close
from ..dead_set import DeadSet, worker_lost_record
from ..keys import Keys
from ..retries import RetryPolicy
from ..run_times import RunTimes
from ..worker_registry import WorkerRegistry
from .heartbeat import Heartbeat

logger = logging.getLogger("gjobs")


class Liveness:
    """Beats as ``worker_id`` every ``interval`` seconds and recovers the others; ``info()`` is what
    each beat publishes about this worker."""

    def __init__(
        self, worker_id: str, interval: float, policy: RetryPolicy, info: Callable[[], Dict[str, Any]],
        dead_max: Optional[int], dead_max_age: Optional[float],
    ) -> None:
        self.worker_id = worker_id
        self.interval = interval
        self.policy = policy
        self.info = info
        self.dead_bounds = (dead_max, dead_max_age)
        self._registered = False
        self._unreachable = False
        #: Monotonic time before which this worker recovers no one (after an outage it saw).
        self.hold_until = 0.0
        #: The run times this worker counted, added to Redis with each beat (see gjobs.run_times).
        self.run_times: Optional[RunTimes] = None

    def reset(self) -> None:
        """Forget the first beat: the next one registers the worker afresh (a new start)."""
        self._registered = False

    def beat(self, registry: WorkerRegistry, now: Optional[float] = None) -> None:
        """Record a heartbeat (at Redis's now unless ``now`` is given); warns when others had
        presumed this worker dead."""
        added = registry.beat(self.worker_id, now, self.info())
        if added and self._registered:
            logger.warning(
                "worker %s was presumed dead and its jobs were requeued; jobs running here may run twice",
                self.worker_id,
            )
        self._registered = True

    def recover(self, registry: WorkerRegistry, now: Optional[float] = None) -> int:
        """Requeue the jobs of every worker whose last beat is older than two intervals.

        Silence is judged by Redis's clock (at ``now`` if given), so a worker whose own clock is
        off cannot make a live one look dead. Returns how many jobs were requeued or buried.
        """
        silence = 2 * self.interval
        if clock.monotonic() < self.hold_until:
            return 0
        now, stale = registry.stale(silence, now=now)
        before = now - silence
        handled = 0
        for worker_id in stale:
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

    def tick(self, registry: WorkerRegistry) -> bool:
        """One heartbeat: beat, then recover. Returns False when Redis could not be reached (the
        error is logged and the next tick tries again)."""
        try:
            self.beat(registry)
        except Exception as error:
            logger.warning("heartbeat of worker %s failed: %s: %s", self.worker_id, type(error).__name__, error)
            self._unreachable = True
            return False
        if self._unreachable:
            self._unreachable = False
            self.hold_until = clock.monotonic() + 2 * self.interval
            logger.info(
                "worker %s reached Redis again: it recovers no other worker for %g s, while they beat again",
                self.worker_id, 2 * self.interval,
            )
        try:
            self.recover(registry)
        except Exception as error:
            logger.warning("recovery by worker %s failed: %s: %s", self.worker_id, type(error).__name__, error)
        self.add_run_times(registry)
        return True

    def add_run_times(self, registry: WorkerRegistry) -> None:
        """Add the run times counted since the last beat to Redis; if that fails they are lost
        (logged), and the histogram goes on from the next beat."""
        if self.run_times is None:
            return
        try:
            self.run_times.flush(registry.client, registry.keys)
        except Exception as error:
            logger.warning("worker %s could not add its run times: %s: %s", self.worker_id,
                           type(error).__name__, error)


def start_heartbeat(
    adapter: Network, client: Any, queues: Sequence[Tuple[Liveness, Keys]], interval: float
) -> Heartbeat:
    """Start the one heartbeat of a worker: every ``interval`` seconds it ticks the liveness of
    each of its queues, on a client of its own (the adapter's), closed in its thread at the end."""
    own = adapter.heartbeat_client(client)
    ticks = [(liveness, WorkerRegistry(own, keys)) for liveness, keys in queues]

    def tick() -> bool:
        return all([liveness.tick(registry) for liveness, registry in ticks])

    def end() -> None:
        for liveness, registry in ticks:
            liveness.add_run_times(registry)  # those counted since the last beat
        if own is not client:
            close(own)  # in the heartbeat's own thread, where its connections live

    heartbeat = Heartbeat(tick, interval, adapter.threaded, on_exit=end)
    heartbeat.start()
    return heartbeat
