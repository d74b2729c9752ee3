"""OpenTelemetry (on ``opentelemetry-api``): an enqueue span on the producer, its trace context
carried in the job, and a consume span on the worker that is its child.

    import gjobs
    from gjobs.contrib.opentelemetry import OpenTelemetryMiddleware

    gjobs.use(OpenTelemetryMiddleware())       # in the web app and in the worker

On the producer, each enqueue makes a ``PRODUCER`` span ``send {queue}`` and injects its context
(W3C ``traceparent``, through the global propagator) into the job's ``headers``. On the worker,
each run is a ``CONSUMER`` span ``process {queue}`` whose parent is that context, so a request
and the jobs it enqueued are one trace. Attributes follow the messaging semantic conventions
(``messaging.system`` ``gjobs``, ``messaging.destination.name``, ``messaging.operation.type``,
``messaging.message.id``), plus ``gjobs.task`` and ``gjobs.attempt``. A job that raises has the
exception recorded on its span and an error status.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, Optional

from opentelemetry import propagate, trace

from .. import __version__
from ..middleware import JobContext, Middleware

#: The key of ``job["headers"]`` that holds the carried trace context.
CARRIER = "otel"


class OpenTelemetryMiddleware(Middleware):
    """Traces enqueues and runs (see the module's text); ``tracer_provider`` defaults to the
    global one."""

    def __init__(self, tracer_provider: Optional[Any] = None) -> None:
        self.tracer = trace.get_tracer("gjobs", __version__, tracer_provider=tracer_provider)

    def before_enqueue(self, job: Dict[str, Any], queue: str) -> None:
        attributes = {"messaging.system": "gjobs", "messaging.destination.name": queue,
                      "messaging.operation.type": "send", "messaging.operation.name": "send"}
        if isinstance(job.get("task"), str):
            attributes["gjobs.task"] = job["task"]
        with self.tracer.start_as_current_span(f"send {queue}", kind=trace.SpanKind.PRODUCER, attributes=attributes):
            carrier: Dict[str, str] = {}
            propagate.inject(carrier)
        headers = dict(job.get("headers") or {})
        headers[CARRIER] = carrier
        job["headers"] = headers

    @contextlib.contextmanager
    def around(self, job: JobContext) -> Iterator[None]:
        carried = job.headers.get(CARRIER)
        parent = propagate.extract(carried) if isinstance(carried, dict) else None
        attributes: Dict[str, Any] = {
            "messaging.system": "gjobs", "messaging.destination.name": job.queue,
            "messaging.operation.type": "process", "messaging.operation.name": "process",
            "messaging.message.id": job.id, "gjobs.attempt": job.attempt,
        }
        if job.task:
            attributes["gjobs.task"] = job.task
        with self.tracer.start_as_current_span(f"process {job.queue}", context=parent, kind=trace.SpanKind.CONSUMER,
                                               attributes=attributes):
            yield
