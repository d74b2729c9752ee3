"""README's examples, run as written: the code blocks are read out of README.rst (not copied),
put in a new directory, and run with a real ``gjobs-worker`` started there, with no PYTHONPATH;
only the Redis URL is pointed at the test's own redis-server."""

import os
import pathlib
import re
import subprocess
import sys

import pytest

from .fault_delegates import worker_command
from .helpers import wait_for

README = pathlib.Path(__file__).resolve().parent.parent / "README.rst"
README_URL = "redis://localhost:6379/0"


def section(title):
    """The text of README's section ``title``, up to the next section of the same level."""
    text = README.read_text()
    start = text.index(f"\n{title}\n{'=' * len(title)}\n")
    following = re.search(r"\n[^\n]+\n=+\n", text[start + len(title) + 2:])
    return text[start: start + len(title) + 2 + following.start()] if following else text[start:]


def python_blocks(text):
    """The ``.. code-block:: python`` blocks of ``text``, dedented."""
    blocks = re.findall(r"\.\. code-block:: python\n\n((?:    .*\n|\n)+)", text)
    return ["\n".join(line[4:] for line in block.splitlines()) + "\n" for block in blocks]


def clean_environment(url):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REDIS_URL")}
    env["REDIS_URL"] = url
    return env


def test_the_readme_is_valid_restructured_text():
    """It is the package's long description: a table or literal block off by a column would
    show as an error on the package index."""
    import docutils.core

    docutils.core.publish_doctree(README.read_text(), settings_overrides={"report_level": 2, "halt_level": 2})


@pytest.mark.slow
def test_following_a_job_runs_as_written(redis_process, tmp_path):
    text = section("Following a job")
    module, script = python_blocks(text)
    command = re.search(r"``gjobs-worker ([^`]+)``", text).group(1).split()
    first_line = module.splitlines()[0]
    assert first_line == "# reports.py"
    (tmp_path / "reports.py").write_text(module.replace(README_URL, redis_process.url))
    (tmp_path / "follow.py").write_text(script)
    env = clean_environment(redis_process.url)
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([*worker_command(), *command, "--heartbeat-interval", "1"],
                              cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "started on queue 'reports'" in (tmp_path / "worker.log").read_text(), timeout=20,
                 message="the worker started")
        ran = subprocess.run([sys.executable, "follow.py"], cwd=tmp_path, env=env, capture_output=True,
                             text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        lines = ran.stdout.splitlines()
        assert lines[0] in ("True", "False") and lines[1] in ("ready", "running", "succeeded")
        assert lines[2:] == ["{'rows': 1200, 'user': 42}", "False"]
    finally:
        worker.terminate()
        worker.wait(20)
        log.close()


@pytest.mark.slow
def test_periodic_jobs_run_as_written(redis_process, tmp_path):
    text = section("Periodic jobs")
    [module] = python_blocks(text)
    assert module.splitlines()[0] == "# nightly.py"
    command = re.search(r"``gjobs-worker ([^`]+)``", text).group(1).split()
    (tmp_path / "nightly.py").write_text(module.replace(README_URL, redis_process.url))
    env = clean_environment(redis_process.url)
    log = open(tmp_path / "worker.log", "wb")
    worker = subprocess.Popen([*worker_command(), *command], cwd=tmp_path, env=env, stdout=log,
                              stderr=subprocess.STDOUT)

    def gjobs(line):
        ran = subprocess.run(line.split(), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
        assert ran.returncode == 0, ran.stderr
        return ran.stdout

    try:
        wait_for(lambda: "3 schedules" in (tmp_path / "worker.log").read_text(), timeout=20,
                 message="the worker started with its schedules")
        commands = [line.split("#")[0].strip() for line in text.splitlines() if line.startswith("    gjobs cron")]
        listing = gjobs(commands[0])
        assert [row.split()[0] for row in listing.splitlines()[1:]] == ["nightly:report", "poll", "sync"]
        wait_for(lambda: "succeeded" in gjobs(commands[0]).splitlines()[2], timeout=10, message="poll to run")
        assert gjobs(commands[1]).startswith("enqueued ")
        assert gjobs(commands[2]) == "paused schedule poll\n"
    finally:
        worker.terminate()
        worker.wait(20)
        log.close()
