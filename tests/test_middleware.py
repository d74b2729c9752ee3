"""Middleware around jobs: the hooks, their order, what a hook that raises does, headers carried
from the producer to the worker, and the log lines a person reads."""

import contextlib
import logging

import pytest

import gjobs
from gjobs import middleware
from gjobs.middleware import Middleware
from gjobs.queue import Queue

from .helpers import wait_for


class Recorder(Middleware):
    """Notes every hook called, as ``(name, hook, ...)``."""

    def __init__(self, name, calls):
        self.name = name
        self.calls = calls

    def before(self, job):
        self.calls.append((self.name, "before", job.attempt))

    @contextlib.contextmanager
    def around(self, job):
        self.calls.append((self.name, "enter"))
        try:
            yield
        finally:
            self.calls.append((self.name, "exit"))

    def after(self, job, result):
        self.calls.append((self.name, "after", result))

    def on_failure(self, job, error):
        self.calls.append((self.name, "on_failure", str(error)))

    def on_retry(self, job, error, delay):
        self.calls.append((self.name, "on_retry", delay))

    def on_dead(self, job, error):
        self.calls.append((self.name, "on_dead", str(error)))


def boom(job):
    raise RuntimeError("boom")


@pytest.fixture
def installed():
    """Middleware installed for the process, removed at the end of the test."""
    before = list(middleware.installed)
    yield middleware.installed
    middleware.installed[:] = before


def test_hooks_wrap_a_run_first_in_first_out(make_server, queue):
    calls = []
    make_server(lambda job: "done", middleware=[Recorder("a", calls), Recorder("b", calls)]).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: len(calls) == 8)
    assert calls == [("a", "before", 1), ("b", "before", 1), ("a", "enter"), ("b", "enter"),
                     ("b", "exit"), ("a", "exit"), ("b", "after", "done"), ("a", "after", "done")]


def test_a_failure_that_will_be_retried_calls_on_failure_then_on_retry(make_server, queue):
    calls = []
    make_server(boom, middleware=[Recorder("a", calls)], backoff=lambda attempt: 60).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: ("a", "on_retry", 60) in calls)
    assert calls[-2:] == [("a", "on_failure", "boom"), ("a", "on_retry", 60)]


def test_a_last_failure_calls_on_dead(make_server, queue):
    calls = []
    make_server(boom, middleware=[Recorder("a", calls)], max_attempts=1).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: ("a", "on_dead", "boom") in calls)
    assert ("a", "after", None) not in calls


def test_a_before_hook_that_raises_fails_the_attempt_and_the_job_is_retried(make_server, queue):
    class Broken(Middleware):
        def before(self, job):
            if job.attempt == 1:
                raise ValueError("middleware trouble")

    ran = []
    make_server(ran.append, middleware=[Broken()], backoff=lambda attempt: 0.05).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: ran == [{"n": 1}])
    assert queue.dead() == []


def test_an_after_hook_that_raises_is_logged_and_the_job_still_succeeds(make_server, queue, caplog):
    class Broken(Middleware):
        def after(self, job, result):
            raise ValueError("middleware trouble")

    make_server(lambda job: None, middleware=[Broken()]).start()
    job_id = queue.enqueue({"n": 1})
    wait_for(lambda: queue.completed_count() == 1)
    assert queue.job(job_id).state == "succeeded"
    assert "middleware Broken.after failed" in caplog.text


def test_installed_middleware_serves_workers_that_name_none(make_server, queue, installed):
    calls = []
    gjobs.use(Recorder("global", calls))
    make_server(lambda job: None).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: ("global", "after", None) in calls)


def test_use_refuses_what_is_not_middleware(installed):
    with pytest.raises(TypeError, match="must be a gjobs.Middleware"):
        gjobs.use(object())


class RequestId(Middleware):
    """Carries a request id from the producer to the worker."""

    def __init__(self):
        self.seen = []

    def before_enqueue(self, job, queue):
        job.setdefault("headers", {})["request_id"] = "req-42"

    def before(self, job):
        self.seen.append((job.headers.get("request_id"), job.task, job.queue))


def test_headers_set_at_enqueue_reach_the_job_in_the_worker(make_server, queue, installed):
    carrier = RequestId()
    gjobs.use(carrier)
    make_server(lambda job: None).start()
    original = {"task": "app:send", "args": [], "kwargs": {}}
    queue.enqueue(original)
    wait_for(lambda: carrier.seen)
    assert carrier.seen == [("req-42", "app:send", queue.prefix)]
    assert "headers" not in original  # the caller's dict is left alone


def test_a_before_enqueue_that_raises_writes_nothing(client, prefix, installed):
    class Refuse(Middleware):
        def before_enqueue(self, job, queue):
            raise RuntimeError("no")

    gjobs.use(Refuse())
    queue = Queue(client, prefix)
    with pytest.raises(RuntimeError, match="no"):
        queue.enqueue({"n": 1})
    assert queue.ready_list.size() == 0 and queue.job_store.size() == 0


def test_headers_that_are_not_a_dict_are_refused_at_enqueue(client, prefix):
    with pytest.raises(TypeError, match="'headers' must be a dict"):
        Queue(client, prefix).enqueue({"n": 1, "headers": ["x"]})


# -- log lines ------------------------------------------------------------------------------------


def test_a_failed_task_job_is_named_by_its_task_in_the_log(make_server, queue, caplog):
    make_server(boom, max_attempts=1).start()
    job_id = queue.enqueue({"task": "app.mail:send", "args": []})
    wait_for(lambda: queue.dead())
    assert f"job app.mail:send[{job_id}] failed (attempt 1): RuntimeError: boom; it goes to the dead set" in caplog.text


def test_a_flapping_job_logs_its_traceback_once(make_server, queue, caplog):
    make_server(boom, max_attempts=4, backoff=lambda attempt: 0.01).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: queue.dead())
    failures = [record for record in caplog.records if "failed (attempt" in record.getMessage()]
    assert len(failures) == 4
    assert [record.exc_info is not None for record in failures] == [True, False, False, False]


def test_log_jobs_writes_one_line_per_success(make_server, queue, caplog):
    caplog.set_level(logging.INFO, logger="gjobs")
    make_server(lambda job: None, log_jobs=True).start()
    job_id = queue.enqueue({"task": "app:report"})
    wait_for(lambda: "succeeded in" in caplog.text)
    assert f"job app:report[{job_id}] succeeded in " in caplog.text


def test_successes_are_not_logged_by_default(make_server, queue, caplog):
    caplog.set_level(logging.INFO, logger="gjobs")
    make_server(lambda job: None).start()
    queue.enqueue({"n": 1})
    wait_for(lambda: queue.completed_count() == 1)
    assert "succeeded in" not in caplog.text
