"""Running one job: the single path every job of a worker takes, from its payload to its outcome.

:meth:`JobRunner.run` decodes the payload, checks its reserved keys, applies the time limit,
calls the delegate and hands the outcome to the settler: success, a retry after the delay the
failure policy chose, or burial with the error record. Any exception the job raises is a failed
attempt, ``SystemExit`` and ``KeyboardInterrupt`` included (a job that calls ``sys.exit`` must
not stop the worker); only the worker's own stop, which kills a job with ``GreenletExit``, is
not an outcome: the job stays in the pending list, and the stop puts it back.

A job whose cancel is asked while it runs gets :class:`JobCancelled` at its next yield point; a
job whose ``expires`` time (Redis's clock, as the fetch read it) passed before it started is
dropped. Neither is a failure: both are settled with their state. A job that asked for its
result (``result_ttl``) has it stored before it is reported complete.

A time limit is a ``gevent.Timeout``, which can stop a job only where it yields (I/O, sleeps):
a job that holds the CPU past its limit runs to its end, and its success is logged as a warning
that names it and its overrun.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Dict, Iterable, Optional, Sequence, Set, cast

import gevent
import gevent.event
from gevent import getcurrent

from .. import clock, reserved, results
from ..coder import parse_time
from ..current import running as _running
from ..dead_set import error_record
from ..keys import Keys
from ..middleware import Chain, JobContext
from ..processing_list import Fetched
from ..retries import RetryPolicy, Unretryable, job_max_attempts
from ..run_times import RunTimes
from ..slots import Slots
from .settler import Settler

logger = logging.getLogger("gjobs")

_RESERVED = reserved.KEYS
#: How the worker's own stop ends a job; never an outcome of the job.
_SHUTDOWN = gevent.GreenletExit


class JobTimeout(Exception):
    """A job ran past its time limit (a failure like any other: it is retried)."""


class JobCancelled(gevent.GreenletExit):  # type: ignore[misc]
    """Raised inside a running job whose cancel was asked, at its next yield point. It is not a
    failure (the job is not retried; its state says cancelled), and, as a ``GreenletExit``, it
    is no ``Exception``, so a job's ``except Exception`` does not swallow it."""


class JobRunner:
    """Runs the fetched jobs of one queue in greenlets of ``parent``, each holding one of
    ``slots`` until it ends; ``ended`` is set whenever a job ends while a stop waits for them
    (:func:`drain`)."""

    def __init__(
        self, call: Callable[[Any], Any], coder: Any, parent: Any, slots: Slots, settler: Settler,
        policy: RetryPolicy, timeout: Optional[float], worker_id: str, ended: gevent.event.Event,
        keys: Keys, client: Any, policy_for: Optional[Callable[[Dict[str, Any]], Any]] = None,
    ) -> None:
        self._call = call
        self.keys = keys
        self.client = client
        #: The delegate's per-job policy (a task's ``backoff`` and ``retry_on``), if it has one.
        self._policy_for = policy_for
        self.coder = coder
        self.parent = parent
        self.slots = slots
        self.settler = settler
        self.policy = policy
        self.timeout = timeout
        self.worker_id = worker_id
        self.ended = ended
        #: The middleware around each run (set by the worker when it starts), None for none.
        self.chain: Optional[Chain] = None
        #: Log one line per job that succeeded.
        self.log_jobs = False
        #: The run times counted since the last heartbeat (which adds them to Redis).
        self.run_times = RunTimes()
        #: Jobs running (or handed to a greenlet and about to run), by id.
        self.in_flight: Dict[str, gevent.Greenlet] = {}
        # The cancels asked for jobs handed over but not yet begun.
        self._cancel_asked: Set[str] = set()
        #: Whether a stop waits for the jobs to end (set by drain): only then does a job's end set
        #: ``ended``, which cost every job an Event.set (about 450 instructions) for nobody.
        self.draining = False

    def start(self, jobs: Iterable[Fetched], now: Optional[float] = None) -> None:
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
            in_flight[job_id] = spawn(self.run, job, now)

    def cancel(self, job_id: str) -> bool:
        """Stop the job ``job_id`` if it runs here (at its next yield point); True if it does."""
        # Rare, so a walk over the jobs running in this process (at most the concurrency) rather
        # than a second index that every job would pay for.
        greenlet = next((g for g, (i, keys, *_) in list(_running.items()) if i == job_id and keys is self.keys), None)
        if greenlet is not None:
            greenlet.kill(JobCancelled(f"job {job_id} was cancelled"), block=False)
            return True
        if job_id in self.in_flight:
            self._cancel_asked.add(job_id)  # handed over, not begun: it ends before it begins
            return True
        return False

    def run(self, fetched: Fetched, now: Optional[float] = None) -> None:
        """Run one job to its outcome, then free its slot. ``now`` is Redis's time at its fetch."""
        job_id, payload, attempts = fetched
        me = getcurrent()
        _running[me] = (job_id, self.keys, attempts, self.client, now)
        begun = clock.monotonic()
        try:
            try:
                job = self.coder.load(payload)
                # Most jobs carry none of gjobs' keys: one set test, then nothing more to do.
                special = isinstance(job, dict) and not _RESERVED.isdisjoint(job)
                if special:
                    reserved.check(job)
            except Exception as error:
                logger.error("job %s cannot be run; it goes to the dead set: %s", job_id, error)
                self._failed(fetched, error, None, retryable=False)
                return
            if self._cancel_asked and job_id in self._cancel_asked:
                self._cancelled(job_id, 0.0)
                return
            if special:
                expires = job.get("expires")
                if expires is not None and now is not None and cast(float, parse_time(expires)) <= now:
                    logger.info("job %s expired before it started (at %s); it is dropped", job_id, expires)
                    self.settler.finish(job_id, "expired", 0.0)
                    return
                limit = job.get("timeout", self.timeout)
            else:
                limit = self.timeout
            chain, context = self.chain, None
            try:
                if chain is None:
                    outcome = self._call_within_limit(job_id, job, limit) if limit else self._call(job)
                else:
                    context = JobContext(job_id, self.keys.prefix, attempts, job, now)
                    outcome = self._call_in_chain(chain, context, job_id, job, limit)
            except JobCancelled:
                self._cancelled(job_id, clock.monotonic() - begun)
                return
            except _SHUTDOWN:
                raise  # the worker's stop: the job stays pending and the stop puts it back
            except BaseException as error:  # SystemExit, KeyboardInterrupt and gevent.Timeout included
                self.run_times.add(job, clock.monotonic() - begun)
                self._failed(fetched, error, job, not isinstance(error, Unretryable), context)
                return
            elapsed = clock.monotonic() - begun
            self.run_times.add(job, elapsed)
            if self.log_jobs:
                logger.info("job %s succeeded in %s", _label(job_id, job), _duration(elapsed))
            if not special:
                self.settler.succeeded(job_id)
            else:
                ttl = job.get("result_ttl")
                stored = results.encode(self.coder, outcome) if ttl else None
                reason = results.refusal(stored) if stored else None
                if reason:
                    logger.error("job %s: its result is not kept: %s", job_id, reason)
                self.settler.succeeded(job_id, (stored, ttl) if stored else None, job.get("unique_key") is not None,
                                       clock.monotonic() - begun)
            if context is not None:
                try:
                    cast(Chain, chain).after(context, outcome)  # the success is reported already
                except JobCancelled:
                    pass  # a cancel that came after the job's end: its success stands
        finally:
            del _running[me]
            if self._cancel_asked:
                self._cancel_asked.discard(job_id)
            self.in_flight.pop(job_id, None)
            self.slots.release()
            if self.draining:
                self.ended.set()

    def _call_in_chain(self, chain: Chain, context: JobContext, job_id: str, job: Any, limit: Optional[float]) -> Any:
        """The call through the middleware. Its own method: a closure in :meth:`run` would give
        every job, with middleware or not, four cells for the garbage collector to count (with
        1,000 sleeping jobs, that tripled its collections and cost 1.7 us a job)."""
        return chain.run(context, lambda: self._call_within_limit(job_id, job, limit) if limit else self._call(job))

    def _call_within_limit(self, job_id: str, job: Any, limit: float) -> Any:
        started = clock.monotonic()
        with gevent.Timeout(limit, JobTimeout(f"job {job_id} ran longer than {limit} s")):
            outcome = self._call(job)
        overrun = clock.monotonic() - started
        if overrun > limit:
            logger.warning(
                "job %s ran %.2f s, past its time limit of %g s, without yielding to gevent "
                "(which stops a job only where it waits on I/O or sleeps); it counts as succeeded",
                job_id, overrun, limit,
            )
        return outcome

    def _cancelled(self, job_id: str, ran_for: float) -> None:
        logger.info("job %s was cancelled while it ran; it is not retried", job_id)
        self.settler.finish(job_id, "cancelled", ran_for)

    def _failed(
        self, fetched: Fetched, error: BaseException, job: Any, retryable: bool = True,
        context: Optional[JobContext] = None,
    ) -> None:
        job_id, _, attempts = fetched
        own = self._policy_for(job) if self._policy_for is not None and isinstance(job, dict) else None
        retry_on = getattr(own, "retry_on", None)
        if retry_on is not None and not isinstance(error, retry_on):
            retryable = False  # the task retries only the errors it names
        max_attempts = job_max_attempts(job)
        decision = self.policy.decide(attempts, retryable, max_attempts, getattr(own, "backoff", None))
        # The traceback once per job, with its first failure: a job failing on every attempt
        # logs one line per attempt after that (the dead record keeps the last traceback).
        label, trace = _label(job_id, job), error if attempts <= 1 else None
        if decision.retry:
            logger.error(
                "job %s failed (attempt %d of %s): %s; retrying in %.1f s", label, attempts,
                max_attempts or self.policy.max_attempts or "unlimited", _said(error), decision.delay, exc_info=trace,
            )
            self.settler.retry(job_id, decision.delay)
        else:
            logger.error("job %s failed (attempt %d): %s; it goes to the dead set", label, attempts, _said(error),
                         exc_info=trace)
            self.settler.bury(job_id, error_record(error, self.worker_id))
        if self.chain is not None and job is not None:  # a job that could not be decoded never began
            context = context or JobContext(job_id, self.keys.prefix, attempts, job, None)
            self.chain.failed(context, error, decision.delay if decision.retry else None)

    def kill_all(self) -> int:
        """Kill every job still running (at the end of a stop); returns how many there were."""
        running = list(self.in_flight.values())
        gevent.killall(running, block=True)
        return len(running)


def _label(job_id: str, job: Any) -> str:
    """``task[id]`` for a task's job, else the id: how log lines name a job."""
    task = job.get("task") if isinstance(job, dict) else None
    return f"{task}[{job_id}]" if isinstance(task, str) else job_id


def _said(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def drain(runners: Sequence[JobRunner], ended: gevent.event.Event, hurry: gevent.event.Event, timeout: float) -> int:
    """Wait up to ``timeout`` seconds (or until ``hurry`` is set) for the jobs of ``runners`` to
    end, then kill those still running; returns how many were killed. ``ended`` is the event
    every runner sets when one of its jobs ends."""
    deadline = clock.monotonic() + timeout
    for runner in runners:
        runner.draining = True
    try:
        while any(runner.in_flight for runner in runners) and not hurry.is_set():
            left = deadline - clock.monotonic()
            if left <= 0:
                break
            ended.clear()
            gevent.wait([ended, hurry], timeout=left, count=1)
        return sum(runner.kill_all() for runner in runners)
    finally:
        for runner in runners:
            runner.draining = False
