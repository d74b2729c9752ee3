"""Running one job: the single path every job of a worker takes, from its payload to its outcome.

:meth:`JobRunner.run` decodes the payload, applies the time limit, calls the delegate and hands
the outcome to the settler: success, a retry at the time the failure policy chose, or burial
with the error record. Shutdown exceptions are not outcomes: the job stays in the pending list,
and the stop that killed it puts it back.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterable, Optional

import gevent
import gevent.event

from .. import clock
from ..dead_set import error_record
from ..processing_list import Fetched
from ..retries import RetryPolicy, Unretryable, job_max_attempts
from ..slots import Slots
from .settler import Settler

logger = logging.getLogger("gjobs")

_SHUTDOWN = (gevent.GreenletExit, KeyboardInterrupt, SystemExit)


class JobTimeout(Exception):
    """A job ran past its time limit (a failure like any other: it is retried)."""


class JobRunner:
    """Runs the fetched jobs of one queue in greenlets of ``parent``, each holding one of
    ``slots`` until it ends; ``ended`` is set whenever a job ends (a stop waits on it)."""

    def __init__(
        self, call: Callable[[Any], Any], coder: Any, parent: Any, slots: Slots, settler: Settler,
        policy: RetryPolicy, timeout: Optional[float], worker_id: str, ended: gevent.event.Event,
    ) -> None:
        self._call = call
        self.coder = coder
        self.parent = parent
        self.slots = slots
        self.settler = settler
        self.policy = policy
        self.timeout = timeout
        self.worker_id = worker_id
        self.ended = ended
        #: Jobs running (or handed to a greenlet and about to run), by id.
        self.in_flight: Dict[str, gevent.Greenlet] = {}

    def start(self, jobs: Iterable[Fetched]) -> None:
        """Hand each job to a greenlet of the parent pool; each holds a slot taken by the fetcher."""
        spawn = self.parent.spawn
        in_flight = self.in_flight
        for job in jobs:
            in_flight[job[0]] = spawn(self.run, job)

    def run(self, fetched: Fetched) -> None:
        """Run one job to its outcome, then free its slot."""
        job_id, payload, attempts = fetched
        try:
            try:
                job = self.coder.load(payload)
            except Exception as error:
                logger.error("job %s cannot be decoded; it goes to the dead set: %s", job_id, error)
                self._failed(fetched, error, retryable=False)
                return
            limit = job.get("timeout", self.timeout) if isinstance(job, dict) else self.timeout
            try:
                if limit:
                    with gevent.Timeout(limit, JobTimeout(f"job {job_id} ran longer than {limit} s")):
                        self._call(job)
                else:
                    self._call(job)
            except _SHUTDOWN:
                raise  # not a failure: the job stays pending and the stop puts it back
            except BaseException as error:  # gevent.Timeout raised by the job itself included
                self._failed(fetched, error, not isinstance(error, Unretryable), job_max_attempts(job))
                return
            self.settler.succeeded(job_id)
        finally:
            self.in_flight.pop(job_id, None)
            self.slots.release()
            self.ended.set()

    def _failed(
        self, fetched: Fetched, error: BaseException, retryable: bool = True, max_attempts: Optional[int] = None
    ) -> None:
        job_id, _, attempts = fetched
        decision = self.policy.decide(attempts, retryable, max_attempts)
        if decision.retry:
            logger.error(
                "job %s failed (attempt %d of %s); retrying in %.1f s",
                job_id, attempts, max_attempts or self.policy.max_attempts or "unlimited", decision.delay,
                exc_info=error,
            )
            self.settler.retry(job_id, clock.now() + decision.delay)
        else:
            logger.error("job %s failed (attempt %d); it goes to the dead set", job_id, attempts, exc_info=error)
            self.settler.bury(job_id, error_record(error, self.worker_id))

    def kill_all(self) -> int:
        """Kill every job still running (at the end of a stop); returns how many there were."""
        running = list(self.in_flight.values())
        gevent.killall(running, block=True)
        return len(running)
