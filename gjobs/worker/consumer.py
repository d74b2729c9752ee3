"""One queue of a worker: its structures, and the loops that serve it.

A :class:`Consumer` owns this worker's pending list on its queue, a fetcher (with a connection
of its own: each queue blocks on its own ready list), a job runner, a settler and this worker's
liveness on the queue. What a process has once (the slots, the runner pool, the heartbeat
thread, the promoter) belongs to the :class:`~gjobs.worker.worker.Worker` that composes them.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Set

import gevent.event

from .. import clock
from ..access import refused
from ..adapter import Network
from ..current import running_since
from ..format import format_status
from ..keys import QUEUES
from ..lane import Lane
from ..processing_list import ProcessingList
from ..queue import Queue
from ..slots import Slots
from .fetcher import Fetcher
from .liveness import Liveness
from .options import Options
from .runner import JobRunner
from .settler import Settler


class Consumer:
    """Serves the queue ``prefix`` at priority ``rank`` (0 first) for worker ``worker_id``."""

    def __init__(
        self, prefix: str, rank: int, *, client: Any, coder: Any, call: Callable[[Any], Any], parent: Any,
        slots: Slots, options: Options, worker_id: str, adapter: Network, settle_lane: Lane,
        ended: gevent.event.Event, info: Callable[[], Dict[str, Any]],
        policy_for: Optional[Callable[[Dict[str, Any]], Any]] = None,
    ) -> None:
        self.rank = rank
        self.slots = slots
        self.queue = Queue(client, prefix, coder)
        self.keys = self.queue.keys
        self.registry = self.queue.registry
        self.fetch_lane = adapter.lane(client)
        self.processing_list = ProcessingList(
            client, self.keys, worker_id, fetch_lane=self.fetch_lane, settle_lane=settle_lane, adapter=adapter,
            keep_finished=options.keep_finished, keep_finished_age=options.keep_finished_age,
        )
        policy = options.policy
        self.settler = Settler(
            self.processing_list, self.queue.dead_set, worker_id, options.dead_max, options.dead_max_age
        )
        self.runner = JobRunner(
            call, coder, parent, slots, self.settler, policy, options.timeout, worker_id, ended,
            self.keys, client, policy_for,
        )
        self.runner.log_jobs = options.log_jobs
        self.fetcher = Fetcher(
            self.processing_list, self.runner, slots, rank, options.batch_for(slots.total), options.block_timeout,
            options.heartbeat_interval, self.known, worker_id,
        )
        self._info = info
        self.liveness = Liveness(
            worker_id, options.heartbeat_interval, policy, self.info, options.dead_max, options.dead_max_age
        )
        self.liveness.run_times = self.runner.run_times

    @property
    def in_progress(self) -> int:
        """Jobs of this queue running here now."""
        return len(self.runner.in_flight)

    def known(self) -> Set[str]:
        """Ids this worker holds on this queue: running, or finished and not yet settled."""
        return self.runner.in_flight.keys() | self.settler.unsettled

    def info(self) -> Dict[str, Any]:
        """What this worker publishes about itself on this queue with every heartbeat: with its
        jobs in flight, since when each job running here runs (the oldest, up to a bound)."""
        return dict(self._info(), in_flight=self.in_progress, running=running_since(self.keys))

    # -- lifecycle, driven by the worker -------------------------------------------------------

    def start(self) -> None:
        """Register on the queue (the first beat) and start fetching and settling.

        Raises :class:`~gjobs.access.AccessError` naming the key when the Redis user (its
        ACL) may not use it.
        """
        with refused(f"the key {QUEUES!r}"):
            self.queue.client.sadd(QUEUES, self.keys.prefix)  # so that `gjobs stats` finds this queue
        self.liveness.reset()
        with refused(f"the keys of queue {self.keys.prefix!r} ({self.keys.tag}:*)"):
            self.liveness.beat(self.registry)
        self.slots.enter(self.rank)  # lower-ranked queues sharing the slots wait for its first fetch
        self.fetcher.loop.start()
        self.settler.loop.start()

    def stop_fetching(self) -> None:
        self.fetcher.loop.stop()
        self.slots.leave(self.rank)

    def stop_settling(self) -> bool:
        """Stop the settle loop and report what is left (after the jobs were drained); returns
        whether everything was reported."""
        self.settler.loop.stop()
        return self.settler.flush_at_stop()

    def release(self) -> int:
        """Put the jobs still pending here back at the front of the queue and leave the registry."""
        try:
            return self.processing_list.release()
        finally:
            self.fetch_lane.close()

    # -- status --------------------------------------------------------------------------------

    def idle(self, now: Optional[float] = None) -> bool:
        """Nothing ready, due, running or waiting to be reported on this queue (for burst mode)."""
        next_due = self.queue.delayed_jobs.next_due()
        due_now = next_due is not None and next_due <= (clock.now() if now is None else now)
        # An id taken by a blocking fetch sits in the pending list before it is in flight here; an
        # empty pending list also means every finished job has been reported.
        return (
            not self.in_progress and not due_now
            and self.queue.ready_list.size() == 0 and self.processing_list.size() == 0
        )

    def status_string(self) -> str:
        """``R=<ready> D=<delayed> P=<in progress>/<completed>`` of this queue (see gjobs.format)."""
        pipe = self.queue.client.pipeline(transaction=False)
        pipe.llen(self.keys.ready)
        pipe.zcard(self.keys.delayed)
        pipe.get(self.keys.completed)
        ready, delayed, completed = pipe.execute()
        return format_status(ready, delayed, self.in_progress, int(completed or 0))
