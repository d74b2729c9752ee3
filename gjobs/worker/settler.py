"""Settling: reporting finished jobs of one queue to Redis, in batches.

Jobs that succeeded are reported together, one script call per batch, after a short window that
lets more of them finish; each failure is settled as the failure policy decided (retry later or
bury). A batch leaves this worker's memory only once Redis has taken it, and until then its ids
are *unsettled*: the fetcher never mistakes them for ids whose fetch reply was lost.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Set, Tuple

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
        # Finished jobs not yet reported: ids to complete (with the results some keep), and the
        # other outcomes as (id, kind, what): ("retry", delay), ("bury", error), ("finish", state).
        self._completed: List[str] = []
        self._results: Dict[str, Tuple[bytes, float]] = {}
        self._unique: Set[str] = set()  # finished ids holding a unique key
        self._tracked: Dict[str, float] = {}  # finished ids whose record keeps how long they ran
        self._failed: List[Tuple[str, str, Any]] = []
        #: Ids finished here whose report Redis has not confirmed.
        self.unsettled: Set[str] = set()
        self._wakeup = gevent.event.Event()
        self.loop = Loop("settle", worker_id, self.step)

    # -- outcomes, from the job runner -------------------------------------------------------

    def succeeded(
        self, job_id: str, result: Optional[Tuple[bytes, float]] = None, unique: bool = False,
        ran_for: Optional[float] = None,
    ) -> None:
        """Report a success; ``result`` is ``(stored result, seconds to keep it)`` when the job
        asked for it (it is written before the completion); ``unique``: it holds a unique key;
        ``ran_for``: seconds it ran, for a job whose record keeps that and its attempts."""
        self.unsettled.add(job_id)
        self._completed.append(job_id)
        if result is not None:
            self._results[job_id] = result
        if unique:
            self._unique.add(job_id)
        if ran_for is not None:
            self._tracked[job_id] = ran_for
        self._wakeup.set()

    def retry(self, job_id: str, delay: float) -> None:
        """Report a failure to retry ``delay`` seconds after Redis's now."""
        self._other(job_id, "retry", delay)

    def bury(self, job_id: str, error: Dict[str, Any]) -> None:
        self._other(job_id, "bury", error)

    def finish(self, job_id: str, state: str, ran_for: float) -> None:
        """Report a job that ended ``state`` after ``ran_for`` seconds: cancelled while it ran,
        or expired unstarted."""
        self._other(job_id, "finish", (state, ran_for))

    def _other(self, job_id: str, kind: str, what: Any) -> None:
        self.unsettled.add(job_id)
        self._failed.append((job_id, kind, what))
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
                kept = {job_id: self._results[job_id] for job_id in batch if job_id in self._results} \
                    if self._results else {}
                if kept:
                    self.processing_list.keep_results(kept)
                unique = bool(self._unique) and not self._unique.isdisjoint(batch)
                tracked = {job_id: self._tracked[job_id] for job_id in batch if job_id in self._tracked} \
                    if self._tracked else {}
                self.processing_list.complete(batch, unique, tracked)
                del self._completed[: len(batch)]
                self.unsettled.difference_update(batch)
                if unique:
                    self._unique.difference_update(batch)
                for job_id in tracked:
                    del self._tracked[job_id]
                for job_id in kept:
                    del self._results[job_id]
            while self._failed:
                job_id, kind, what = self._failed[0]
                if kind == "retry":
                    self.processing_list.retry(job_id, what)
                elif kind == "bury":
                    what["failed_at"] = clock.now()
                    buried += self.processing_list.bury(job_id, what["failed_at"], what)
                else:
                    self.processing_list.finish(job_id, *what)
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
