"""gjobs with gunicorn: a server inside each gevent worker (``gjobs.contrib.gunicorn``), or beside it.

The first tests run a real ``gunicorn -k gevent`` serving ``tests/examples/wsgi``, whose request
handler enqueues a task; the last ones drive the hooks in this process with a stand-in worker.
"""

import json
import os
import pathlib
import signal
import subprocess
import sys
import types
import urllib.error
import urllib.request

import gunicorn.config
import pytest

import gjobs
from gjobs import Buffer, Queue
from gjobs.contrib.gunicorn import Hooks
from gjobs.embedded import RedisProcess, free_port

from .helpers import wait_for

ROOT = pathlib.Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "tests" / "examples"
WSGI = EXAMPLES / "wsgi"
#: Newer gunicorns open a control socket at a fixed path unless told not to.
NO_CONTROL_SOCKET = ["--no-control-socket"] if "control_socket_disable" in gunicorn.config.Config().settings else []


def environment(url, prefix, *paths):
    """The environment of an example process: its Redis, its queue, and its import path."""
    env = dict(os.environ, REDIS_URL=url, GJOBS_PREFIX=prefix)
    env["PYTHONPATH"] = os.pathsep.join([*map(str, paths), str(ROOT)])
    return env


class Gunicorn:
    """``gunicorn -k gevent`` serving ``app`` from ``directory`` on a free port, log in a file."""

    def __init__(self, log_path, directory, app, env, config=None):
        self.port = free_port()
        args = [sys.executable, "-m", "gunicorn", "-k", "gevent", "--bind", f"127.0.0.1:{self.port}",
                "--chdir", str(directory), *NO_CONTROL_SOCKET]
        if config is None:
            # Without -c gunicorn would read ./gunicorn.conf.py, hooks included.
            config = log_path.with_suffix(".conf.py")
            config.write_text("")
        args += ["-c", str(config)]
        self.log_path = log_path
        self._log = open(log_path, "wb")
        # A session of its own, so that kill() can end the master and its workers together.
        self.process = subprocess.Popen([*args, app], cwd=directory, env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        wait_for(self._answers, timeout=30, message=f"gunicorn to answer on port {self.port}")

    def _answers(self):
        if self.process.poll() is not None:
            raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
        try:
            urllib.request.urlopen(self.url("/"), timeout=2).close()
        except urllib.error.HTTPError:
            return True  # an answer, even a 404, means it serves
        except OSError:
            return False
        return True

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def request(self, path, data=None):
        """``(status, decoded JSON body)``; ``data`` (a dict) makes it a form POST."""
        body = None if data is None else urllib.parse.urlencode(data).encode()
        try:
            with urllib.request.urlopen(self.url(path), data=body, timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout=30):
        """SIGTERM (gunicorn's graceful stop) and wait; returns the exit status."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        finally:
            self._log.close()

    def kill(self):
        """SIGKILL to the master and its workers at once."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self._log.close()


@pytest.fixture
def gunicorns(tmp_path):
    """Starts gunicorns; kills whatever is still running at the end of the test."""
    started = []

    def start(directory, app, env, config=None):
        server = Gunicorn(tmp_path / f"gunicorn-{len(started)}.log", directory, app, env, config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def run_worker(args, env, timeout=30):
    """``gjobs-worker ARGS`` (as ``python -m gjobs``) to completion."""
    return subprocess.run([sys.executable, "-m", "gjobs", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def results(client, prefix):
    """What the example's ``record`` task has recorded, in order."""
    return [value.decode() for value in client.lrange(f"example:{prefix}:results", 0, -1)]


# -- a real gunicorn ----------------------------------------------------------------------------


def test_a_request_enqueues_a_task_and_the_server_inside_the_gunicorn_worker_runs_it(
    redis_process, prefix, gunicorns
):
    web = gunicorns(WSGI, "app:app", environment(redis_process.url, prefix, WSGI), WSGI / "gunicorn.conf.py")

    status, body = web.request("/enqueue?value=hello")

    assert status == 202 and len(body["id"]) == 32
    wait_for(lambda: web.request("/results")[1]["results"] == ["hello"], message="the task to run in gunicorn")


def test_stopping_gunicorn_lets_a_running_job_finish_and_leaves_nothing_behind(
    redis_process, real_client, prefix, gunicorns
):
    web = gunicorns(WSGI, "app:app", environment(redis_process.url, prefix, WSGI), WSGI / "gunicorn.conf.py")
    queue = Queue(real_client, prefix)
    wait_for(lambda: queue.stats()["workers"], message="the server in gunicorn to register")
    web.request("/enqueue?value=slow&pause=1.5")
    wait_for(lambda: queue.stats()["in_progress"] == 1, message="the job to start")

    assert web.stop() == 0, web.log()

    assert results(real_client, prefix) == ["slow"]
    stats = queue.stats()
    assert (stats["ready"], stats["in_progress"], stats["completed"], stats["workers"]) == (0, 0, 1, [])


def test_an_app_that_only_enqueues_and_a_separate_gjobs_worker_process_that_runs_the_jobs(
    redis_process, real_client, prefix, gunicorns
):
    env = environment(redis_process.url, prefix, WSGI)
    web = gunicorns(WSGI, "app:app", env)  # no gunicorn.conf.py: no server inside gunicorn
    for value in ("a", "b", "c"):
        assert web.request(f"/enqueue?value={value}")[0] == 202
    assert Queue(real_client, prefix).stats()["ready"] == 3

    worker = run_worker(["--import", "tasks", "--redis-url", redis_process.url, "--prefix", prefix, "--burst"], env)

    assert worker.returncode == 0, worker.stderr
    assert sorted(results(real_client, prefix)) == ["a", "b", "c"]


# -- the hooks, driven in this process ------------------------------------------------------------


@pytest.fixture
def no_default_queue():
    gjobs.set_default_queue(None)
    yield
    gjobs.set_default_queue(None)


def gunicorn_worker():
    """What the hooks use of a gunicorn worker."""
    return types.SimpleNamespace(alive=True, pid=os.getpid(), cfg=types.SimpleNamespace(graceful_timeout=30), log=None)


def test_hooks_run_jobs_while_the_worker_is_alive_and_stop_when_it_stops(
    redis_process, real_client, prefix, no_default_queue
):
    buffer = Buffer()
    hooks = Hooks(url=redis_process.url, prefix=prefix, delegate=buffer, heartbeat_interval=0.5)
    worker = gunicorn_worker()
    hooks.post_worker_init(worker)
    server = hooks.server
    wait_for(lambda: server.running, message="the server to start")

    Queue(real_client, prefix).enqueue({"n": 1})
    assert buffer.pop(timeout=5) == {"n": 1}

    worker.alive = False
    wait_for(lambda: not server.running, message="the server to stop")
    hooks.worker_exit(None, worker)
    assert Queue(real_client, prefix).stats()["workers"] == []


def test_hooks_give_tasks_the_servers_queue_when_the_app_set_none(redis_process, prefix, no_default_queue):
    hooks = Hooks(url=redis_process.url, prefix=prefix, delegate=Buffer())
    worker = gunicorn_worker()
    hooks.post_worker_init(worker)
    try:
        assert gjobs.tasks.default_queue() is hooks.server.queue
    finally:
        worker.alive = False
        hooks.worker_exit(None, worker)


def test_the_app_boots_while_redis_is_down_and_the_server_starts_when_it_comes_back(
    prefix, no_default_queue, caplog
):
    redis_server = RedisProcess(port=free_port())
    hooks = Hooks(url=redis_server.url, prefix=prefix, delegate=Buffer())
    worker = gunicorn_worker()
    hooks.post_worker_init(worker)  # returns at once: the server starts in the background
    try:
        wait_for(lambda: "could not start" in caplog.text, message="a failed start to be logged")
        assert not hooks.server.running
        redis_server.start()
        wait_for(lambda: hooks.server.running, message="the server to start once Redis is up")
    finally:
        worker.alive = False
        hooks.worker_exit(None, worker)
        redis_server.cleanup()


MASTER = """
import sys, types
from gjobs.contrib.gunicorn import Hooks
hooks = Hooks()
dead = types.SimpleNamespace(alive=False, pid=12345, cfg=types.SimpleNamespace(graceful_timeout=30), log=None)
hooks.worker_exit(None, dead)
loaded = sorted({name.split(".")[0] for name in sys.modules} & {"gevent", "greenlet", "redis"})
print(repr((loaded, hooks.server)))
"""


def test_worker_exit_does_nothing_in_a_process_that_started_no_server():
    """gunicorn's master calls it for each dead worker: there it loads neither gevent nor
    redis-py, prints nothing, and leaves the hooks as they were for the workers forked next."""
    master = subprocess.run([sys.executable, "-c", MASTER], cwd=ROOT, env=environment("redis://127.0.0.1:1", "m"),
                            capture_output=True, text=True, timeout=60)
    assert master.returncode == 0, master.stderr
    assert (master.stdout, master.stderr) == ("([], None)\n", "")


def test_a_worker_forked_after_worker_exit_ran_in_the_master_still_starts_its_server(
    redis_process, real_client, prefix, no_default_queue
):
    hooks = Hooks(url=redis_process.url, prefix=prefix, delegate=Buffer(), heartbeat_interval=0.5)
    hooks.worker_exit(None, gunicorn_worker())  # in the master, for a worker that died
    worker = gunicorn_worker()
    hooks.post_worker_init(worker)  # in the worker forked to replace it: same hooks, same state
    try:
        wait_for(lambda: hooks.server.running, message="the server to start")
        assert [w["pid"] for w in Queue(real_client, prefix).stats()["workers"]] == [os.getpid()]
    finally:
        worker.alive = False
        hooks.worker_exit(None, worker)
