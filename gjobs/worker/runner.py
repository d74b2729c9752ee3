"""Running one job: the single path every job of a worker takes, from its payload to its outcome.

:meth:`JobRunner.run` decodes the payload, checks its reserved keys, applies the time limit,
calls the delegate and hands the outcome to the settler: success, a retry after the delay the
failure policy chose, or burial with the error record. Any exception the job raises is a failed
attempt, ``SystemExit`` and ``KeyboardInterrupt`` included (a job that calls ``sys.exit`` must
not stop the worker); only the worker's own stop, which kills a job with ``GreenletExit``, is
not an outcome: the job stays in the pending list, and the stop puts it back.

A time limit is a ``gevent.Timeout``, which can stop a job only where it yields (I/O, sleeps):
a job that holds the CPU past its limit runs to its end, and its success is logged as a warning
that names it and its overrun.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

import gevent
import gevent.event

from .. import clock, reserved
from ..dead_set import error_record
from ..processing_list import Fetched
from ..retries import RetryPolicy, Unretryable, job_max_attempts
from ..slots import Slots
from .settler import Settler

logger = logging.getLogger("gjobs")

#: How the worker's own stop ends a job; never an outcome of the job.
_SHUTDOWN = gevent.GreenletExit


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
        """Hand each job to a greenlet of the parent pool; each holds a slot taken by the fetcher.

        A job already running here, or finished and not yet reported, is not started again: it
        came back because others presumed this worker dead and requeued it, and this worker
        took it again. The run under way settles it (its report removes the one copy in the
        pending list), so one job never runs twice at once in a worker, and an outcome only
        ever settles its own run.
        """
        spawn = self.parent.spawn
        in_flight = self.in_flight
        unsettled = self.settler.unsettled
        for job in jobs:
            job_id = job[0]
            if job_id in in_flight or job_id in unsettled:
                logger.warning("job %s came back while its run here is not settled; that run settles it", job_id)
                self.slots.release()
                continue
            in_flight[job_id] = spawn(self.run, job)

    def run(self, fetched: Fetched) -> None:
        """Run one job to its outcome, then free its slot."""
        job_id, payload, attempts = fetched
        try:
            try:
                job = self.coder.load(payload)
                if isinstance(job, dict):
                    reserved.check(job)
            except Exception as error:
                logger.error("job %s cannot be run; it goes to the dead set: %s", job_id, error)
                self._failed(fetched, error, retryable=False)
                return
            limit = job.get("timeout", self.timeout) if isinstance(job, dict) else self.timeout
            try:
                if limit:
                    started = clock.monotonic()
                    with gevent.Timeout(limit, JobTimeout(f"job {job_id} ran longer than {limit} s")):
                        self._call(job)
                    overrun = clock.monotonic() - started
                    if overrun > limit:
                        logger.warning(
                            "job %s ran %.2f s, past its time limit of %g s, without yielding to gevent "
                            "(which stops a job only where it waits on I/O or sleeps); it counts as succeeded",
                            job_id, overrun, limit,
                        )
                else:
                    self._call(job)
            except _SHUTDOWN:
                raise  # the worker's stop: the job stays pending and the stop puts it back
            except BaseException as error:  # SystemExit, KeyboardInterrupt and gevent.Timeout included
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
            self.settler.retry(job_id, decision.delay)
        else:
            logger.error("job %s failed (attempt %d); it goes to the dead set", job_id, attempts, exc_info=error)
            self.settler.bury(job_id, error_record(error, self.worker_id))

    def kill_all(self) -> int:
        """Kill every job still running (at the end of a stop); returns how many there were."""
        running = list(self.in_flight.values())
        gevent.killall(running, block=True)
        return len(running)


def drain(runners: Sequence[JobRunner], ended: gevent.event.Event, hurry: gevent.event.Event, timeout: float) -> int:
    """Wait up to ``timeout`` seconds (or until ``hurry`` is set) for the jobs of ``runners`` to
    end, then kill those still running; returns how many were killed. ``ended`` is the event
    every runner sets when one of its jobs ends."""
    deadline = clock.monotonic() + timeout
    while any(runner.in_flight for runner in runners) and not hurry.is_set():
        left = deadline - clock.monotonic()
        if left <= 0:
            break
        ended.clear()
        gevent.wait([ended, hurry], timeout=left, count=1)
    return sum(runner.kill_all() for runner in runners)
