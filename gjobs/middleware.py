"""Middleware: one seam for everything around a job, on the producer's side and the worker's.

Subclass :class:`Middleware`, override the hooks you need, and install it with
:func:`use` (every queue and worker of the process) or ``Worker(..., middleware=[...])``.

On the producer, :meth:`Middleware.before_enqueue` sees each job before it is encoded and may
add to its ``headers`` (a dict of JSON values under the job's ``"headers"`` key: a request id,
a trace context). On the worker, the hooks of one run are called in this order::

    before(job)                         each middleware in order
    with around(job): <the job runs>    the first middleware's around is the outermost
    after(job, result)                  on success, once it is reported, in reverse order
    on_failure(job, error)              on a failed attempt, in reverse order; then
    on_retry(job, error, delay)         when it will run again, or
    on_dead(job, error)                 when it went to the dead set

``job`` is a :class:`JobContext`. A job whose payload cannot be decoded never began: it goes to
the dead set without calling any hook. A hook that raises in ``before`` or on entering ``around``
fails the attempt (retried like any failure: the job is never lost); one that raises in
``after``, ``on_failure``, ``on_retry`` or ``on_dead`` is logged and changes nothing. A
``before_enqueue`` that raises makes the enqueue raise, and nothing is written. With no
middleware installed the run path does not look for any.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Callable, ContextManager, Dict, Iterable, List, Optional

logger = logging.getLogger("gjobs")


class JobContext:
    """One run of a job as middleware sees it: ``id``, ``queue`` (prefix), ``attempt`` (1 first),
    ``job`` (the decoded job), ``task`` (its task name, or None) and ``headers``."""

    __slots__ = ("id", "queue", "attempt", "job", "started_at", "state")

    def __init__(self, job_id: str, queue: str, attempt: int, job: Any, started_at: Optional[float]) -> None:
        self.id = job_id
        self.queue = queue
        self.attempt = attempt
        self.job = job
        self.started_at = started_at
        #: Free for middleware to keep what one hook leaves for another (a span, a timer).
        self.state: Dict[str, Any] = {}

    @property
    def task(self) -> Optional[str]:
        return self.job.get("task") if isinstance(self.job, dict) else None

    @property
    def headers(self) -> Dict[str, Any]:
        headers = self.job.get("headers") if isinstance(self.job, dict) else None
        return headers if isinstance(headers, dict) else {}

    @property
    def label(self) -> str:
        """``task[id]`` (or the bare id for a job that is not a task), for log lines."""
        return f"{self.task}[{self.id}]" if self.task else self.id


class Middleware:
    """Every hook does nothing; override those you need (see the module's text for the order)."""

    def before_enqueue(self, job: Dict[str, Any], queue: str) -> None:
        """Called with each job about to be stored in ``queue``; may change it (``job["headers"]``)."""

    def before(self, job: JobContext) -> None:
        """Called before the job runs."""

    def around(self, job: JobContext) -> ContextManager[Any]:
        """A context manager the job runs inside (its ``__exit__`` sees the job's exception)."""
        return contextlib.nullcontext()

    def after(self, job: JobContext, result: Any) -> None:
        """Called after the job succeeded, with what it returned."""

    def on_failure(self, job: JobContext, error: BaseException) -> None:
        """Called after each failed attempt."""

    def on_retry(self, job: JobContext, error: BaseException, delay: float) -> None:
        """Called when a failed job will run again in ``delay`` seconds."""

    def on_dead(self, job: JobContext, error: BaseException) -> None:
        """Called when a failed job went to the dead set."""


#: The middleware of this process, in order: every queue and worker uses these unless given
#: their own.
installed: List[Middleware] = []


def use(*middleware: Middleware) -> None:
    """Install middleware for every queue and worker of this process (after those installed)."""
    for one in middleware:
        if not isinstance(one, Middleware):
            raise TypeError(f"middleware must be a gjobs.Middleware, not {type(one).__name__}")
        if one not in installed:
            installed.append(one)


def before_enqueue(job: Any, queue: str) -> Any:
    """A copy of ``job`` that every installed ``before_enqueue`` saw (the producer's side), its
    headers checked, so that a bad one fails here and not in a worker."""
    if not isinstance(job, dict):
        return job  # the queue refuses it next, with its own error
    job = dict(job)
    for one in installed:
        one.before_enqueue(job, queue)
    headers = job.get("headers")
    if headers is not None and not isinstance(headers, dict):
        raise TypeError(f"job key 'headers' must be a dict, not {type(headers).__name__}")
    return job


class Chain:
    """The worker's side: the hooks of ``middleware`` around one run."""

    def __init__(self, middleware: Iterable[Middleware]) -> None:
        self.middleware = list(middleware)
        self._reversed = self.middleware[::-1]

    def run(self, context: JobContext, call: Callable[[], Any]) -> Any:
        """Run ``call`` inside every ``before`` and ``around``; returns what it returned."""
        for one in self.middleware:
            one.before(context)
        with contextlib.ExitStack() as stack:
            for one in self.middleware:
                stack.enter_context(one.around(context))
            return call()

    def after(self, context: JobContext, result: Any) -> None:
        """The ``after`` hooks of a success (the runner calls them once the success is reported)."""
        self._each("after", context, result)

    def failed(self, context: JobContext, error: BaseException, delay: Optional[float]) -> None:
        """After a failed attempt: ``on_failure``, then ``on_retry`` (``delay`` given) or ``on_dead``."""
        self._each("on_failure", context, error)
        if delay is not None:
            self._each("on_retry", context, error, delay)
        else:
            self._each("on_dead", context, error)

    def _each(self, hook: str, context: JobContext, *args: Any) -> None:
        for one in self._reversed:
            try:
                getattr(one, hook)(context, *args)
            except Exception:
                logger.exception("middleware %s.%s failed for job %s; the job's outcome stands",
                                 type(one).__name__, hook, context.label)
