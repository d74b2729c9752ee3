"""Settling: reporting finished jobs of one queue to Redis, in batches.

Jobs that succeeded are reported together, one script call per batch, after a short window that
lets more of them finish; each failure is settled as the failure policy decided (retry later or
bury). A batch leaves this worker's memory only once Redis has taken it, and until then its ids
are *unsettled*: the fetcher never mistakes them for ids whose fetch reply was lost.
"""

from __future__ import annotations

import logging
from typing import List, Optional, Set, Tuple

import gevent
import gevent.event

from .. import clock
from ..dead_set import DeadSet
from ..processing_list import ProcessingList
from .loop import RETRY_WAIT_FIRST, Loop

logger = logging.getLogger("gjobs")

#: Jobs reported complete per script call at most.
SETTLE_BATCH = 500
#: Seconds finished jobs wait to be reported together: one round trip for all of them rather
#: than one per job or two, at the cost of running them again if the worker dies meanwhile.
SETTLE_DELAY = 0.005
#: Tries of the last report at stop before the jobs are left to run again.
FLUSH_TRIES = 3


class Settler:
    """Reports the outcomes of ``processing_list``'s jobs; buried jobs are kept within the dead
    set's bounds (``dead_max`` jobs, ``dead_max_age`` seconds)."""

    def __init__(
        self, processing_list: ProcessingList, dead_set: DeadSet, worker_id: str,
        dead_max: Optional[int], dead_max_age: Optional[float],
    ) -> None:
        self.processing_list = processing_list
        self.dead_set = dead_set
        self.worker_id = worker_id
        self.dead_bounds = (dead_max, dead_max_age)
        # Finished jobs not yet reported: ids to complete, and failures as (id, retry in, error).
        self._completed: List[str] = []
        self._failed: List[Tuple[str, Optional[float], Optional[dict]]] = []
        #: Ids finished here whose report Redis has not confirmed.
        self.unsettled: Set[str] = set()
        self._wakeup = gevent.event.Event()
        self.loop = Loop("settle", worker_id, self.step)

    # -- outcomes, from the job runner -------------------------------------------------------

    def succeeded(self, job_id: str) -> None:
        self.unsettled.add(job_id)
        self._completed.append(job_id)
        self._wakeup.set()

    def retry(self, job_id: str, delay: float) -> None:
        """Report a failure to retry ``delay`` seconds after Redis's now."""
        self._failure(job_id, delay, None)

    def bury(self, job_id: str, error: dict) -> None:
        self._failure(job_id, None, error)

    def _failure(self, job_id: str, delay: Optional[float], error: Optional[dict]) -> None:
        self.unsettled.add(job_id)
        self._failed.append((job_id, delay, error))
        self._wakeup.set()

    @property
    def waiting(self) -> int:
        """Outcomes not yet reported."""
        return len(self._completed) + len(self._failed)

    # -- reporting ---------------------------------------------------------------------------

    def step(self) -> None:
        if not self.waiting:
            self._wakeup.clear()
            self._wakeup.wait()
        if len(self._completed) < SETTLE_BATCH:
            gevent.sleep(SETTLE_DELAY)  # let more jobs finish: one round trip reports them all
        with self.loop.in_call:
            self.flush(once=True)

    def flush(self, once: bool = False) -> None:
        """Report finished jobs to Redis (one batch of each kind if ``once``, else all). A batch is
        taken off the queue only once Redis took it."""
        buried = 0
        while self.waiting:
            if self._completed:
                batch = self._completed[:SETTLE_BATCH]
                self.processing_list.complete(batch)
                del self._completed[: len(batch)]
                self.unsettled.difference_update(batch)
            while self._failed:
                job_id, delay, error = self._failed[0]
                if error is None:
                    self.processing_list.retry(job_id, delay)
                else:
                    error["failed_at"] = clock.now()
                    buried += self.processing_list.bury(job_id, error["failed_at"], error)
                self._failed.pop(0)
                self.unsettled.discard(job_id)
            if once:
                break
        self.dead_set.buried(buried, *self.dead_bounds)

    def flush_at_stop(self, tries: int = FLUSH_TRIES) -> bool:
        """The last report, retried a few times; what cannot be reported will run again.
        Returns whether everything was reported."""
        for attempt in range(tries):
            try:
                self.flush()
                return True
            except Exception as error:
                logger.warning("worker %s: reporting finished jobs failed (%s); retrying", self.worker_id, error)
                gevent.sleep(RETRY_WAIT_FIRST * 2**attempt)
        logger.error(
            "worker %s: %d finished jobs could not be reported and will run again", self.worker_id, self.waiting
        )
        return False
