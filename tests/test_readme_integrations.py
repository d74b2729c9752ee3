"""README's Middleware, Testing your tasks, Flask and Django sections, run as written: the code
blocks are read out of README.rst, put in a new directory and run there with no PYTHONPATH,
against the test's own redis-server."""

import re
import subprocess
import sys

import pytest

from gjobs import Queue

from .test_django import PROJECT
from .test_readme_examples import README_URL, clean_environment, python_blocks, section


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
    code = block(section("Metrics"), "# metrics.py")
    (tmp_path / "metrics.py").write_text(code.replace(README_URL, redis_process.url))
    real_client.sadd("gjobs:queues", prefix)
    Queue(real_client, prefix).enqueue({"n": 1})
    ran = run([sys.executable, "metrics.py"], tmp_path, clean_environment(redis_process.url))
    assert f'gjobs_ready{{queue="{prefix}"}} 1.0' in ran.stdout
    real_client.srem("gjobs:queues", prefix)
