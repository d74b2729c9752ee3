"""Tasks: functions registered by import path, enqueued as JSON jobs, run by ``TaskRunner``."""

import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

import gevent
import pytest

import gjobs
from gjobs import Buffer, JobTimeout, Queue, Server, TaskRunner, UnknownTask, Unretryable
from gjobs.tasks import TaskRegistry, registry

from .helpers import wait_for

ROOT = pathlib.Path(__file__).resolve().parent.parent
#: What the tasks below ran, as (task, result) pairs.
RAN = Buffer()


@gjobs.task
def add(a, b):
    RAN.call(("add", a + b))
    return a + b


@gjobs.task(max_attempts=3, timeout=20)
def send(to, subject="hello"):
    RAN.call(("send", to, subject))


@gjobs.task
def collect(*items, **options):
    RAN.call(("collect", list(items), options))


@gjobs.task(max_attempts=2)
def always_fails():
    raise RuntimeError("this task fails every time")


@gjobs.task(timeout=0.1, max_attempts=1)
def too_slow():
    gevent.sleep(5)


@gjobs.task
def gives_up():
    raise Unretryable("the account was deleted: this can never work")


@pytest.fixture
def queue(client, prefix):
    """The default queue of the tasks above, for this test."""
    queue = Queue(client, prefix)
    gjobs.set_default_queue(queue)
    yield queue
    gjobs.set_default_queue(None)


@pytest.fixture
def server(client, prefix, queue):
    """A started server running task jobs, with no wait between attempts."""
    server = Server(TaskRunner(), client, prefix=prefix, heartbeat_interval=0.5, backoff=lambda attempt: 0)
    server.start()
    yield server
    server.stop(timeout=1)


def stored_jobs(queue):
    return [json.loads(payload) for payload in queue.client.hvals(queue.keys.jobs)]


def dead_one(queue):
    wait_for(lambda: queue.dead_set.size() == 1, message="the job to reach the dead set")
    return queue.dead()[0]


# -- defining and enqueueing --------------------------------------------------------------------


def test_a_task_is_registered_under_its_import_path():
    assert add.name == "tests.test_tasks:add"
    assert registry.get("tests.test_tasks:add") is add


def test_calling_a_task_runs_it_inline():
    assert add(2, 3) == 5
    assert RAN.drain() == [("add", 5)]


def test_delay_enqueues_a_json_job_that_names_the_task(queue):
    job_id = add.delay(2, b=3)

    assert queue.ready_list.size() == 1
    assert json.loads(queue.job_store.get(job_id)) == {"task": "tests.test_tasks:add", "args": [2], "kwargs": {"b": 3}}


def test_enqueue_in_and_enqueue_at_schedule_the_task(queue):
    soon = add.enqueue_in(60, 1, 2)
    later = add.enqueue_at(datetime.datetime.now() + datetime.timedelta(hours=1), 1, 2)

    assert queue.ready_list.size() == 0
    due = dict(queue.client.zrange(queue.keys.delayed, 0, -1, withscores=True))
    assert due[soon.encode()] == pytest.approx(time.time() + 60, abs=5)
    assert due[later.encode()] == pytest.approx(time.time() + 3600, abs=5)


def test_a_tasks_options_go_into_each_of_its_jobs():
    assert send.job(("ann@example.com",)) == {
        "task": "tests.test_tasks:send", "args": ["ann@example.com"], "kwargs": {}, "max_attempts": 3, "timeout": 20
    }


def test_a_tasks_queue_name_means_the_default_queues_redis_with_that_prefix(client, queue):
    mail = gjobs.task(name="tests.test_tasks:send_mail", queue=f"{queue.prefix}-mail")(send.fn)

    mail.delay("ann@example.com")

    target = mail.target()
    assert (target.prefix, target.client) == (f"{queue.prefix}-mail", client)
    assert [job["task"] for job in stored_jobs(target)] == ["tests.test_tasks:send_mail"]
    assert queue.job_store.size() == 0


def test_queue_task_sends_the_jobs_to_that_queue(client, prefix):
    queue = Queue(client, prefix)

    def notify(user_id):
        return user_id

    notify_task = queue.task(notify, name="tests.test_tasks:notify")
    notify_task.delay(7)

    assert notify_task.target() is queue
    assert stored_jobs(queue) == [{"task": "tests.test_tasks:notify", "args": [7], "kwargs": {}}]


def test_queue_task_refuses_another_queue(client, prefix):
    with pytest.raises(TypeError, match="gjobs.task"):
        Queue(client, prefix).task(queue="elsewhere")


def test_delay_without_any_queue_says_how_to_give_one():
    gjobs.set_default_queue(None)
    with pytest.raises(RuntimeError, match="set_default_queue"):
        add.delay(1, 2)


@pytest.mark.parametrize(
    "value, named, problem",
    [
        ({1, 2}, "argument 'b'", "set"),
        (datetime.datetime(2030, 1, 1), "argument 'b'", "would arrive as str"),
        ((1, 2), "argument 'b'", "tuple"),
        (float("nan"), "argument 'b'", "JSON cannot carry"),
        ({1: "one"}, "argument 'b'", "key 1"),
        ({"items": [1, b"raw"]}, "argument 'b'['items'][1]", "bytes"),
        (object(), "argument 'b'", "object"),
    ],
)
def test_delay_refuses_an_argument_that_does_not_survive_json_and_names_it(queue, value, named, problem):
    with pytest.raises(TypeError) as raised:
        add.delay(1, value)

    message = str(raised.value)
    assert message.startswith(f"tests.test_tasks:add: {named} ")
    assert problem in message
    assert queue.ready_list.size() == 0 and queue.job_store.size() == 0


def test_delay_names_extra_positional_and_keyword_arguments(queue):
    with pytest.raises(TypeError, match=r"positional argument 1 is \{3\}"):
        collect.delay(1, {3})
    with pytest.raises(TypeError, match="argument 'when' is"):
        collect.delay(1, when=datetime.date(2030, 1, 1))


def test_delay_refuses_arguments_the_function_does_not_take(queue):
    with pytest.raises(TypeError, match="missing a required argument: 'b'"):
        add.delay(1)
    assert queue.job_store.size() == 0


def test_a_task_defined_inside_a_function_needs_a_name():
    def local():
        pass

    with pytest.raises(ValueError, match="name="):
        gjobs.task(local)


@pytest.mark.parametrize("options", [{"max_attempts": 0}, {"max_attempts": True}, {"timeout": -1}])
def test_task_options_are_checked(options):
    with pytest.raises(ValueError):
        gjobs.task(name="tests.test_tasks:bad", **options)(add.fn)


# -- running ------------------------------------------------------------------------------------


def test_the_task_runner_runs_a_delayed_task_in_a_server(server):
    RAN.drain()
    add.delay(20, 22)
    assert RAN.pop(timeout=5) == ("add", 42)


def test_the_task_runner_passes_extra_positional_and_keyword_arguments(server):
    RAN.drain()
    collect.delay(1, 2, colour="red")
    assert RAN.pop(timeout=5) == ("collect", [1, 2], {"colour": "red"})


def test_an_unknown_task_goes_to_the_dead_set_at_once_with_a_clear_error(server, queue):
    queue.enqueue({"task": "app.mail:nope", "args": [], "kwargs": {}})

    dead = dead_one(queue)
    assert dead.attempts == 1
    assert dead.error["type"] == "UnknownTask"
    assert "unknown task 'app.mail:nope'" in dead.error["message"]
    assert "--import app.mail" in dead.error["message"]


def test_the_task_runner_never_imports_a_module_a_job_names():
    module = "tests.examples.flask_app.tasks"
    assert module not in sys.modules
    with pytest.raises(UnknownTask):
        TaskRunner().call({"task": f"{module}:count_visit", "args": ["home"], "kwargs": {}})
    assert module not in sys.modules


def test_the_task_runner_imports_the_modules_it_is_given():
    runner = TaskRunner(imports=["tests.examples.wsgi.tasks"])
    assert "tests.examples.wsgi.tasks:record" in runner.registry


def test_the_task_runner_looks_only_in_its_own_registry():
    with pytest.raises(UnknownTask):
        TaskRunner(registry=TaskRegistry()).call({"task": "tests.test_tasks:add", "args": [1, 2], "kwargs": {}})


@pytest.mark.parametrize(
    "job", [{"no": "task"}, {"task": "tests.test_tasks:add", "args": {"a": 1}}, ["not", "a", "dict"]]
)
def test_a_job_that_is_not_a_well_formed_task_job_is_unretryable(job):
    with pytest.raises(Unretryable):
        TaskRunner().call(job)


def test_arguments_the_function_does_not_take_send_the_job_to_the_dead_set_at_once(server, queue):
    queue.enqueue({"task": "tests.test_tasks:add", "args": [1], "kwargs": {"c": 2}})

    dead = dead_one(queue)
    assert (dead.attempts, dead.error["type"]) == (1, "Unretryable")
    assert "cannot take these arguments" in dead.error["message"]


def test_a_task_that_raises_unretryable_goes_to_the_dead_set_at_once(server, queue):
    gives_up.delay()

    dead = dead_one(queue)
    assert (dead.attempts, dead.error["type"]) == (1, "Unretryable")


def test_any_delegate_can_raise_unretryable_to_skip_the_retries(client, prefix):
    def delegate(job):
        raise Unretryable("never")

    server = Server(delegate, client, prefix=prefix, heartbeat_interval=0.5, backoff=lambda attempt: 0)
    with server:
        server.call({"n": 1})
        dead = dead_one(server.queue)
    assert (dead.attempts, dead.error["message"]) == (1, "never")


def test_a_tasks_max_attempts_overrides_the_workers(server, queue):
    always_fails.delay()  # max_attempts=2; the server allows 25

    dead = dead_one(queue)
    assert dead.attempts == 2
    assert dead.error["type"] == "RuntimeError"


def test_a_tasks_time_limit_stops_a_run_that_takes_longer(server, queue):
    started = time.monotonic()
    too_slow.delay()  # timeout=0.1, max_attempts=1

    dead = dead_one(queue)
    assert dead.error["type"] == JobTimeout.__name__
    assert time.monotonic() - started < 3


def test_gjobs_worker_with_import_runs_the_tasks_of_that_module(redis_process, real_client, prefix):
    queue = Queue(real_client, prefix)
    queue.enqueue({"task": "tasks:record", "args": ["from the worker"], "kwargs": {}})
    queue.enqueue({"task": "tasks:no_such_task", "args": [], "kwargs": {}})
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT / "tests" / "examples" / "wsgi"), str(ROOT)]),
               GJOBS_PREFIX=prefix, REDIS_URL=redis_process.url)

    worker = subprocess.run(
        [sys.executable, "-m", "gjobs", "--import", "tasks", "--prefix", prefix, "--burst"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=30,
    )

    assert worker.returncode == 0, worker.stderr
    assert real_client.lrange(f"example:{prefix}:results", 0, -1) == [b"from the worker"]
    [dead] = queue.dead()
    assert dead.error["type"] == "UnknownTask"
