"""gjobs.contrib.flask with a real Flask app: configuration, the app context around each job, and
``flask gjobs worker``."""

import os
import subprocess
import sys

import pytest
from flask import Flask, current_app

import gjobs
from gjobs import tasks
from gjobs.contrib.flask import GJobs, worker_argv

from .helpers import wait_for
from .processes import ROOT, environment


@pytest.fixture
def app(redis_process, prefix):
    app = Flask(__name__)
    app.config.update(GJOBS_URL=redis_process.url, GJOBS_PREFIX=prefix, GJOBS_WORKER={"heartbeat_interval": 0.5},
                      GREETING="hi")
    yield app
    tasks.set_default_queue(None)


@gjobs.task
def note_greeting(name):
    queue = current_app.extensions["gjobs"].queue
    queue.client.rpush(f"{queue.prefix}:notes", f"{current_app.config['GREETING']} {name}")


def test_the_extension_reads_the_apps_config_and_is_the_default_queue(app, prefix):
    extension = GJobs(app)
    assert extension.queue.prefix == prefix and tasks.default_queue() is extension.queue
    assert app.extensions["gjobs"] is extension


def test_init_app_binds_a_extension_made_earlier(app):
    extension = GJobs()
    with pytest.raises(RuntimeError, match="not bound to an app"):
        extension.worker()
    extension.init_app(app)
    assert extension.app is app


def test_each_job_runs_inside_an_app_context(app, prefix):
    extension = GJobs(app)
    worker = extension.worker()
    worker.start()
    try:
        note_greeting.delay("ann")
        client = extension.queue.client
        wait_for(lambda: client.lrange(f"{prefix}:notes", 0, -1) == [b"hi ann"])
    finally:
        worker.stop()


def test_flask_gjobs_worker_gets_the_apps_redis_and_queue_unless_given(app, redis_process, prefix):
    extension = GJobs(app)
    assert worker_argv(extension, ["--burst"]) == [
        "gjobs:TaskRunner", "--redis-url", redis_process.url, "--prefix", prefix, "--burst"]
    assert worker_argv(extension, ["--queue", "a", "--redis-url", "redis://x"])[1:] == [
        "--queue", "a", "--redis-url", "redis://x"]


def test_flask_gjobs_worker_runs_the_apps_tasks_in_its_context(redis_process, real_client, prefix):
    env = dict(environment(redis_process.url), GJOBS_PREFIX=prefix)
    enqueue = ("from tests.flask_ext_app import greet; print(greet.delay('bob'))")
    subprocess.run([sys.executable, "-c", enqueue], cwd=ROOT, env=env, check=True, capture_output=True)
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    ran = subprocess.run([flask, "--app", "tests.flask_ext_app", "gjobs", "worker", "--burst"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert real_client.lrange(f"{prefix}:greetings", 0, -1) == [b"hello from the app, bob"]


def test_the_extensions_worker_keeps_the_middleware_installed_with_use(app):
    from gjobs import middleware

    class Noted(middleware.Middleware):
        pass

    before = list(middleware.installed)
    noted = Noted()
    middleware.use(noted)
    try:
        worker = GJobs(app).worker()
    finally:
        middleware.installed[:] = before
    assert noted in worker.middleware and any(type(m).__name__ == "AppContext" for m in worker.middleware)
