"""README's Middleware, Testing your tasks, Dashboard and metrics, Flask and Django sections, run as
written: the code blocks are read out of README.rst, put in a new directory and run there with no
PYTHONPATH, against the test's own redis-server."""

import base64
import re
import shlex
import subprocess
import sys
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from gjobs import Queue
from gjobs.embedded import free_port

from . import test_gunicorn
from .browser import Http
from .helpers import wait_for
from .test_django import PROJECT
from .test_readme_examples import README_URL, clean_environment, python_blocks, section
from .test_web_mount import QUEUES, links, paused

gunicorns = test_gunicorn.gunicorns  # the fixture that starts gunicorns and cleans up after them


def block(text, first_line):
    """The code block of ``text`` that starts with ``first_line``."""
    found = [code for code in python_blocks(text) if code.splitlines()[0].startswith(first_line)]
    assert len(found) == 1, f"README has {len(found)} blocks starting {first_line!r}"
    return found[0]


def run(args, cwd, env, timeout=60):
    ran = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert ran.returncode == 0, ran.stderr + ran.stdout
    return ran


def test_the_middleware_example_carries_a_request_id_to_the_worker(redis_process, tmp_path):
    (tmp_path / "request_ids.py").write_text(block(section("Middleware"), "# request_ids.py"))
    driver = f"""
from gevent import monkey; monkey.patch_all()
import logging, time
logging.basicConfig(level=logging.INFO)
import gjobs, request_ids
queue = gjobs.Queue.from_url({redis_process.url!r}, "readme-mw")
request_ids.request_id.set("req-7")
queue.enqueue({{"task": "app:report"}})
worker = gjobs.Worker(lambda job: None, queue.client, ["readme-mw"])
worker.start()
while queue.completed_count() < 1:
    time.sleep(0.01)
worker.stop()
"""
    ran = run([sys.executable, "-c", driver], tmp_path, clean_environment(redis_process.url))
    assert re.search(r"INFO:app:app:report\[\w+\] runs for request req-7", ran.stderr), ran.stderr


def test_the_testing_example_passes_under_pytest(tmp_path):
    (tmp_path / "test_signup.py").write_text(block(section("Testing your tasks"), "# test_signup.py"))
    ran = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_signup.py"], tmp_path,
              clean_environment("redis://unused"))
    assert "3 passed" in ran.stdout


@pytest.mark.slow
def test_the_flask_example_runs_its_task_with_flask_gjobs_worker(redis_process, tmp_path):
    text = section("Flask and Django")
    (tmp_path / "hello.py").write_text(block(text, "# hello.py").replace(README_URL, redis_process.url))
    env = clean_environment(redis_process.url)
    run([sys.executable, "-c", "from hello import greet; greet.delay('ann')"], tmp_path, env)
    command = re.search(r"\$ (flask --app hello gjobs worker[^\n]*)", text).group(1).split()
    flask = [sys.executable, "-m", "flask", *command[1:], "--burst"]
    ran = run(flask, tmp_path, env)
    assert "hello ann from hello" in ran.stderr


def test_the_django_examples_are_the_tested_projects_own_code():
    text = section("Flask and Django")
    for path in ("site_conf/settings.py", "notes/tasks.py", "notes/scenarios.py"):
        first_line = f"# {path}"
        shown = block(text, first_line).split("\n", 1)[1]
        assert shown.strip() in (PROJECT / path).read_text(), f"README's {path} is not the project's"


def test_the_metrics_example_prints_the_queues_metrics(redis_process, real_client, prefix, tmp_path):
    code = block(section("Dashboard and metrics"), "# metrics.py")
    (tmp_path / "metrics.py").write_text(code.replace(README_URL, redis_process.url))
    real_client.sadd("gjobs:queues", prefix)
    Queue(real_client, prefix).enqueue({"n": 1})
    ran = run([sys.executable, "metrics.py"], tmp_path, clean_environment(redis_process.url))
    assert f'gjobs_ready{{queue="{prefix}"}} 1.0' in ran.stdout
    real_client.srem("gjobs:queues", prefix)


# -- the dashboard under gunicorn, in Flask and in Django ------------------------------------------


def test_the_gunicorn_command_serves_the_dashboard_read_only(redis_process, real_client, prefix, gunicorns,
                                                             tmp_path):
    [command] = re.findall(r"\$ (gunicorn [^\n]*)", section("Dashboard and metrics"))
    args = shlex.split(command.replace(README_URL, redis_process.url))
    # The fixture runs ``gunicorn -k gevent --bind`` a free port: the rest is README's.
    assert args[:5] == ["gunicorn", "-k", "gevent", "--bind", "127.0.0.1:8787"] and len(args) == 6, args
    real_client.sadd(QUEUES, prefix)
    Queue(real_client, prefix).enqueue({"n": 1})
    try:
        web = gunicorns(tmp_path, args[5], clean_environment(redis_process.url))
        browser = Http(web.url(""))
        status, _, page = browser.get("/")
        assert status == 200 and f"/queues/{prefix}" in links(page)
        families = {family.name: family for family in text_string_to_metric_families(browser.get("/metrics")[2])}
        assert {sample.labels["queue"]: sample.value for sample in families["gjobs_ready"].samples}[prefix] == 1.0
        status, _, refused = browser.post(f"/queues/{prefix}/pause", {"csrf": browser.cookie("gjobs_csrf")})
        assert status == 403 and "read-only" in refused and not paused(real_client, prefix)
    finally:
        real_client.srem(QUEUES, prefix)


class BasicAuthHttp(Http):
    """:class:`Http` that sends HTTP basic auth with every request."""

    def __init__(self, base, user, password):
        super().__init__(base)
        self.authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def _open(self, request):
        request.add_header("Authorization", self.authorization)
        return super()._open(request)


@pytest.fixture
def flask_run(tmp_path):
    """Starts README's ``flask --app admin run`` in ``tmp_path`` on a free port; stops it at the end."""
    started = []

    def start(env):
        [command] = re.findall(r"\$ (flask --app admin run)\b", section("Dashboard and metrics"))
        port = free_port()
        log = open(tmp_path / "flask.log", "wb")
        started.append(subprocess.Popen([sys.executable, "-m", *command.split(), "--port", str(port)], cwd=tmp_path,
                                         env=env, stdout=log, stderr=subprocess.STDOUT))
        base = f"http://127.0.0.1:{port}"

        def answers():
            assert started[0].poll() is None, (tmp_path / "flask.log").read_text()
            try:
                urllib.request.urlopen(base, timeout=2).close()
            except urllib.error.HTTPError:
                return True
            except OSError:
                return False
            return True

        wait_for(answers, timeout=30, message="flask run to answer")
        return base

    yield start
    for process in started:
        process.terminate()
        process.wait(10)


def test_the_flask_example_serves_the_dashboard_to_its_admin_only(redis_process, real_client, prefix, flask_run,
                                                                  tmp_path):
    code = block(section("Dashboard and metrics"), "# admin.py")
    password = re.search(r'ADMIN_PASSWORD="([^"]+)"', code).group(1)
    (tmp_path / "admin.py").write_text(code.replace(README_URL, redis_process.url))
    real_client.sadd(QUEUES, prefix)
    try:
        base = flask_run(clean_environment(redis_process.url))
        here = f"/admin/gjobs/queues/{prefix}"
        for visitor in (Http(base), BasicAuthHttp(base, "admin", "wrong"), BasicAuthHttp(base, "eve", password)):
            status, headers, _ = visitor.get("/admin/gjobs/")
            assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="admin"'
            assert visitor.post(f"{here}/pause", {})[0] == 401

        admin = BasicAuthHttp(base, "admin", password)
        status, _, page = admin.get("/admin/gjobs/")
        assert status == 200 and f"{here}" in links(page)
        assert all(address.startswith("/admin/gjobs/") for address in links(page))
        status, _, refused = admin.post(f"{here}/pause", {})
        assert status == 403 and "CSRF" in refused and not paused(real_client, prefix)
        status, headers, _ = admin.post(f"{here}/pause", {"csrf": admin.cookie("gjobs_csrf")})
        assert (status, headers["Location"]) == (303, here) and paused(real_client, prefix)
    finally:
        real_client.srem(QUEUES, prefix)


def test_the_django_dashboard_urls_are_the_tested_projects_own_code():
    shown = block(section("Dashboard and metrics"), "# site_conf/urls.py").split("\n", 1)[1]
    assert shown.strip() in (PROJECT / "site_conf" / "urls.py").read_text()
