"""Sentry and OpenTelemetry middleware with the real SDKs: sentry-sdk with a transport that keeps
the envelopes it would send, and opentelemetry-sdk with its in-memory span exporter."""

import pytest
import sentry_sdk
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from sentry_sdk.transport import Transport

from gjobs import middleware
from gjobs.contrib.opentelemetry import OpenTelemetryMiddleware
from gjobs.contrib.sentry import SentryMiddleware

from .helpers import wait_for


class Kept(Transport):
    """A Sentry transport that sends nothing and keeps every event."""

    def __init__(self, options=None):
        super().__init__(options)
        self.events = []

    def capture_envelope(self, envelope):
        self.events.extend(item.payload.json for item in envelope.items if item.type == "event")


@pytest.fixture
def sentry():
    transport = Kept()
    sentry_sdk.init(dsn="http://key@127.0.0.1:9/1", transport=transport, default_integrations=False)
    yield transport
    sentry_sdk.init(dsn=None)


def fail_always(job):
    raise ConnectionError(f"mail server down for {job['task']}")


def reported(transport):
    return [(event["tags"]["gjobs.task"], event["tags"]["gjobs.attempt"], event["level"]) for event in transport.events]


def test_a_failure_is_reported_with_the_task_job_attempt_and_queue(make_server, queue, sentry):
    make_server(fail_always, middleware=[SentryMiddleware()], max_attempts=1).start()
    job_id = queue.enqueue({"task": "app.mail:send"})
    wait_for(lambda: sentry.events)
    [event] = sentry.events
    assert {key: event["tags"][key] for key in ("gjobs.task", "gjobs.job_id", "gjobs.queue")} == {
        "gjobs.task": "app.mail:send", "gjobs.job_id": job_id, "gjobs.queue": queue.prefix}
    assert event["exception"]["values"][-1]["type"] == "ConnectionError"
    assert event["fingerprint"] == ["{{ default }}", "app.mail:send"]


def test_a_flapping_job_is_reported_at_its_first_attempt_and_when_it_dies(make_server, queue, sentry):
    make_server(fail_always, middleware=[SentryMiddleware()], max_attempts=4, backoff=lambda attempt: 0.01).start()
    queue.enqueue({"task": "app.mail:send"})
    wait_for(lambda: queue.dead())
    wait_for(lambda: len(sentry.events) >= 2)
    assert reported(sentry) == [("app.mail:send", "1", "warning"), ("app.mail:send", "4", "error")]


def test_report_retries_all_reports_every_attempt(make_server, queue, sentry):
    make_server(fail_always, middleware=[SentryMiddleware("all")], max_attempts=3, backoff=lambda attempt: 0.01).start()
    queue.enqueue({"task": "app.mail:send"})
    wait_for(lambda: len(sentry.events) == 3)
    assert [attempt for _, attempt, _ in reported(sentry)] == ["1", "2", "3"]


def test_report_retries_is_checked():
    with pytest.raises(ValueError, match="report_retries must be one of"):
        SentryMiddleware("sometimes")


@pytest.fixture
def spans():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield OpenTelemetryMiddleware(tracer_provider=provider), exporter


@pytest.fixture
def installed():
    before = list(middleware.installed)
    yield
    middleware.installed[:] = before


def test_the_consume_span_is_a_child_of_the_enqueue_span(make_server, queue, spans, installed):
    tracing, exporter = spans
    middleware.use(tracing)  # the producer's side: every queue of the process
    make_server(lambda job: None, middleware=[tracing]).start()
    job_id = queue.enqueue({"task": "app.mail:send", "args": [], "kwargs": {}})
    wait_for(lambda: len(exporter.get_finished_spans()) == 2)
    sent, processed = sorted(exporter.get_finished_spans(), key=lambda span: span.kind != trace.SpanKind.PRODUCER)
    assert (sent.name, processed.name) == (f"send {queue.prefix}", f"process {queue.prefix}")
    assert processed.parent.span_id == sent.context.span_id
    assert processed.context.trace_id == sent.context.trace_id
    assert processed.attributes["messaging.system"] == "gjobs"
    assert processed.attributes["messaging.destination.name"] == queue.prefix
    assert processed.attributes["messaging.operation.type"] == "process"
    assert processed.attributes["messaging.message.id"] == job_id
    assert processed.attributes["gjobs.task"] == "app.mail:send"


def test_a_failed_run_has_an_error_status_and_its_exception(make_server, queue, spans):
    tracing, exporter = spans
    make_server(fail_always, middleware=[tracing], max_attempts=1).start()
    queue.enqueue({"task": "app.mail:send"})
    wait_for(lambda: exporter.get_finished_spans())
    [span] = exporter.get_finished_spans()
    assert span.status.status_code == trace.StatusCode.ERROR
    assert span.events[0].name == "exception"
