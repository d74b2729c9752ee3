"""Sentry (on ``sentry-sdk``): job failures reported with the task, job id, attempt and queue.

    import sentry_sdk, gjobs
    from gjobs.contrib.sentry import SentryMiddleware

    sentry_sdk.init(dsn=...)
    gjobs.use(SentryMiddleware())

Each job runs in an isolation scope of its own (what it adds to the scope stays with it) named
after its task. A failure is reported with the tags ``gjobs.task``, ``gjobs.job_id``,
``gjobs.attempt`` and ``gjobs.queue``, grouped per task (the same error in two tasks is two
issues). A failure that will be retried is reported ``report_retries="first"``: at a job's
first attempt only (``"all"``: at every attempt, ``"none"``: never); one that sends the job to
the dead set is always reported. So a job failing 25 times makes one report, or two.
"""

from __future__ import annotations

from typing import Any, ContextManager, Literal

import sentry_sdk

from ..middleware import JobContext, Middleware

_CHOICES = ("first", "all", "none")


class SentryMiddleware(Middleware):
    """Reports failed jobs to Sentry (see the module's text)."""

    def __init__(self, report_retries: str = "first") -> None:
        if report_retries not in _CHOICES:
            raise ValueError(f"report_retries must be one of {', '.join(_CHOICES)}, not {report_retries!r}")
        self.report_retries = report_retries

    def around(self, job: JobContext) -> ContextManager[Any]:
        scope = sentry_sdk.isolation_scope()
        return _Named(scope, job)

    def on_retry(self, job: JobContext, error: BaseException, delay: float) -> None:
        if self.report_retries == "all" or (self.report_retries == "first" and job.attempt <= 1):
            self._report(job, error, "warning", retrying=True)

    def on_dead(self, job: JobContext, error: BaseException) -> None:
        self._report(job, error, "error", retrying=False)

    def _report(
        self, job: JobContext, error: BaseException, level: Literal["warning", "error"], retrying: bool
    ) -> None:
        with sentry_sdk.new_scope() as scope:
            name = job.task or "job"
            for key, value in (("task", name), ("job_id", job.id), ("attempt", job.attempt), ("queue", job.queue)):
                scope.set_tag(f"gjobs.{key}", str(value))
            scope.set_tag("gjobs.retrying", "yes" if retrying else "no")
            scope.set_level(level)
            scope.fingerprint = ["{{ default }}", name]
            sentry_sdk.capture_exception(error)


class _Named:
    """The isolation scope of one job, named after its task."""

    def __init__(self, manager: Any, job: JobContext) -> None:
        self.manager = manager
        self.job = job

    def __enter__(self) -> Any:
        scope = self.manager.__enter__()
        scope.set_transaction_name(self.job.task or "gjobs job")
        scope.set_tag("gjobs.queue", self.job.queue)
        return scope

    def __exit__(self, *exc: Any) -> Any:
        return self.manager.__exit__(*exc)
