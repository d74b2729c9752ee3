"""gjobs.testing: eager tasks, and running a queue's jobs in the test's own process."""

import pytest

from gjobs import testing
from gjobs.tasks import Task, TaskRegistry, TaskRunner


@pytest.fixture
def registry():
    return TaskRegistry()


def make_task(registry, fn, name, queue=None):
    made = Task(fn, name=name, queue=queue)
    registry.add(made)
    return made


def test_eager_runs_a_task_inline_with_what_a_worker_would_see(registry):
    seen = []
    echo = make_task(registry, lambda *items: seen.append(items) or len(items), "tests:echo")  # no queue at all
    with testing.eager():
        handle = echo.delay([1, 2], {"k": 1})
    assert seen == [([1, 2], {"k": 1})] and handle.result() == 2


def test_eager_checks_arguments_as_an_enqueue_does(registry):
    one = make_task(registry, lambda x: x, "tests:one")
    with testing.eager(), pytest.raises(TypeError, match="tests:one"):
        one.delay(1, 2)


def test_eager_lets_a_tasks_error_reach_the_caller(registry):
    def fail():
        raise LookupError("nope")

    failing = make_task(registry, fail, "tests:fail")
    with testing.eager(), pytest.raises(LookupError):
        failing.delay()


def test_eager_ends_with_its_block(registry, queue):
    one = make_task(registry, lambda: 1, "tests:after", queue=queue)
    with testing.eager():
        pass
    one.delay()
    assert queue.ready_list.size() == 1


def test_run_jobs_runs_every_ready_job_and_those_they_enqueue(registry, queue):
    done = []
    second = make_task(registry, done.append, "tests:second", queue=queue)
    make_task(registry, lambda n: second.delay(n * 10), "tests:first", queue=queue)
    for n in range(3):
        registry.get("tests:first").delay(n)
    ran = testing.run_jobs(queue, TaskRunner(registry=registry))
    assert ran == 6 and sorted(done) == [0, 10, 20]
    assert queue.ready_list.size() == 0


def test_run_jobs_raises_with_the_records_of_jobs_that_failed(registry, queue):
    def broken():
        raise ValueError("bad row")

    make_task(registry, broken, "tests:broken", queue=queue).delay()
    with pytest.raises(testing.JobsFailed, match="ValueError: bad row") as raised:
        testing.run_jobs(queue, TaskRunner(registry=registry))
    assert [entry.error["message"] for entry in raised.value.dead] == ["bad row"]


def test_run_jobs_leaves_delayed_jobs_unless_asked(registry, queue):
    done = []
    later = make_task(registry, done.append, "tests:later", queue=queue)
    later.enqueue_in(3600, "x")
    assert testing.run_jobs(queue, TaskRunner(registry=registry)) == 0 and done == []
    assert testing.run_jobs(queue, TaskRunner(registry=registry), delayed=True) == 1 and done == ["x"]
