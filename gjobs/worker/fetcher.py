"""Fetching: taking the jobs of one queue from Redis, only as many as there are free slots.

The fetcher draws slots from the worker's shared :class:`~gjobs.slots.Slots` at its queue's
rank, takes up to that many jobs in one script call, and hands them to the job runner. When the
queue is empty it gives back all its slots but one and blocks on the ready list (a finite
BLMOVE), so a job enqueued then starts at once while the other slots serve other queues.

A paused queue hands out nothing: the fetcher gives its slots back and looks again after a
block timeout.

It also reconciles, once per heartbeat interval: ids in this worker's pending list that it
never received (their fetch reply was lost to a cut connection) would stay there for as long
as the worker beats; they go back to the ready list. And running jobs whose cancel was asked
while this worker could not hear it are stopped.
"""

from __future__ import annotations

import logging
from typing import Callable, List, Optional, Set, Tuple

import gevent

from .. import clock
from ..processing_list import Fetched, ProcessingList
from ..slots import Slots
from .loop import Loop
from .runner import JobRunner

logger = logging.getLogger("gjobs")


class Fetcher:
    """Feeds ``runner`` from ``processing_list``, ``batch`` jobs per call at most; ``known()``
    gives the ids this worker holds (running, or finished and not yet settled)."""

    def __init__(
        self, processing_list: ProcessingList, runner: JobRunner, slots: Slots, rank: int,
        batch: int, block_timeout: float, reconcile_every: float, known: Callable[[], Set[str]],
        worker_id: str,
    ) -> None:
        self.processing_list = processing_list
        self.runner = runner
        self.slots = slots
        self.rank = rank
        self.batch = batch
        self.block_timeout = block_timeout
        self.reconcile_every = reconcile_every
        self.known = known
        self.worker_id = worker_id
        self._reconcile_at = 0.0
        self.loop = Loop("fetch", worker_id, self.step)

    def step(self) -> None:
        """Reconcile when due, then take jobs for the slots granted (blocking when none is ready)."""
        if clock.monotonic() >= self._reconcile_at:
            with self.loop.in_call:
                self.reconcile()
        jobs, now, paused = self._take()
        if jobs:
            self.runner.start(jobs, now)
        elif paused:
            gevent.sleep(self.block_timeout)  # look again then: a paused queue hands out nothing

    def _take(self) -> Tuple[List[Fetched], Optional[float], bool]:
        slots, rank, in_call = self.slots, self.rank, self.loop.in_call
        granted = slots.acquire(self.batch, rank)
        jobs: List[Fetched] = []
        now: Optional[float] = None
        paused = False
        try:
            with in_call:
                jobs, missing, now, paused = self.processing_list.fetch(granted)
            if paused:
                slots.idle(rank)
                return jobs, now, paused
            if not jobs and not missing:
                # Block holding one slot only: the others may serve another queue meanwhile.
                slots.release(granted - 1)
                granted = 1
                slots.idle(rank)
                claimed = self.processing_list.wait(self.block_timeout)
                if claimed is None:
                    return jobs, now, paused
                more = slots.try_acquire(self.batch - 1, rank)
                granted += more
                with in_call:
                    jobs, missing, now, paused = self.processing_list.fetch(more, claimed)
        except Exception:
            # The reply may have been lost after Redis moved ids into our pending list.
            self._reconcile_at = 0.0
            slots.idle(rank)  # while this loop backs off, lower-ranked queues need not wait
            raise
        finally:
            slots.release(granted - len(jobs))
        if missing:
            logger.warning("dropped %d jobs whose payload was missing: %s", len(missing), missing[:10])
        return jobs, now, paused

    def reconcile(self) -> int:
        """Requeue ids in our pending list that this process does not know about; returns how many."""
        self._reconcile_at = clock.monotonic() + self.reconcile_every
        ids = self.processing_list.ids()
        known = self.known()
        orphans = [job_id for job_id in ids if job_id not in known]
        count = self.processing_list.requeue(orphans) if orphans else 0
        if count:
            logger.warning("worker %s requeued %d jobs whose fetch reply was lost", self.worker_id, count)
        for job_id in self.processing_list.cancelled_among(self.runner.in_flight):
            self.runner.cancel(job_id)
        return count
