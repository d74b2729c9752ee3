"""README's first steps, as a new user takes them: a fresh virtualenv, the package installed the
way the README says, the README's own code blocks (read out of README.rst) written into new
directories, and the tour's and "A first worker"'s commands run there, with no PYTHONPATH."""

import os
import re
import shutil
import signal
import subprocess
import urllib.request
import venv

import pytest

from gjobs.embedded import free_port

from .helpers import wait_for
from .processes import ROOT
from .test_readme_examples import README_URL, section

pytestmark = pytest.mark.slow


def indented_blocks(text):
    """Every ``.. code-block:: python`` of ``text`` (also inside list items), dedented."""
    blocks = []
    for indent, body in re.findall(r"^( *)\.\. code-block:: python\n\n((?:\1    .*\n|\n)+)", text, re.M):
        blocks.append("\n".join(line[len(indent) + 4:] for line in body.splitlines()).strip("\n") + "\n")
    return blocks


def literal_commands(text, start):
    """The lines of ``text``'s literal blocks that begin with ``start`` (``$ `` prompts removed)."""
    lines = [line.strip().removeprefix("$ ") for line in text.splitlines()]
    return [line for line in lines if line.startswith(start)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A virtualenv with the package installed by the README's own command, from a copy of this
    checkout; returns the environment that puts its bin first, and the copy."""
    base = tmp_path_factory.mktemp("fresh")
    source = base / "gjobs-src"
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    venv.create(base / "venv", with_pip=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "REDIS_URL", "VIRTUAL_ENV")}
    env["PATH"] = f"{base / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    [install] = [line for line in literal_commands(section("A five-minute tour"), "pip install")]
    ran = subprocess.run(["bash", "-c", install], cwd=source, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    return env, source


def test_the_five_minute_tour_runs_as_written(installed, redis_process, tmp_path):
    installed, _ = installed
    text = section("A five-minute tour")
    tasks_py, app_py, conf_py = indented_blocks(text)
    (tmp_path / "tasks.py").write_text(tasks_py)
    (tmp_path / "app.py").write_text(app_py)
    (tmp_path / "gunicorn.conf.py").write_text(conf_py)
    env = dict(installed, REDIS_URL=redis_process.url)
    [serve] = literal_commands(text, "gunicorn ")
    port = free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    web = subprocess.Popen([*serve.split(), "--bind", f"127.0.0.1:{port}"], cwd=tmp_path, env=env, stdout=log,
                           stderr=subprocess.STDOUT)
    try:
        def get(path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.read().decode()

        def up():
            try:
                return get("/results")
            except OSError:
                return None

        wait_for(up, timeout=30, message="gunicorn to answer")
        assert '"id": "' in get("/enqueue?value=hello")
        wait_for(lambda: get("/results") == '{"results": ["hello"]}', timeout=15, message="the task to run")
        stats = subprocess.run(["gjobs", "stats"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
        assert stats.returncode == 0 and "P=0/1" in stats.stdout, stats.stdout + stats.stderr
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(30)
        log.close()


def test_a_first_worker_runs_as_written(installed, redis_process, tmp_path):
    installed, _ = installed
    text = section("A first worker")
    jobs_py, enqueue_py = indented_blocks(text)
    assert jobs_py.startswith("# app/jobs.py") and enqueue_py.startswith("# enqueue.py")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "jobs.py").write_text(jobs_py)
    (tmp_path / "enqueue.py").write_text(enqueue_py.replace(README_URL, redis_process.url))
    env = dict(installed)
    [enqueue] = literal_commands(text, "python enqueue.py")
    subprocess.run(enqueue.split(), cwd=tmp_path, env=env, check=True, timeout=30)
    [worker] = literal_commands(text, "gjobs-worker ")
    command = worker.replace(README_URL, redis_process.url).split() + ["--burst"]
    ran = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert "WARNING app: welcome mail to ann@example.com" in ran.stderr


def test_the_dashboard_installs_and_serves_as_written(installed, redis_process, tmp_path):
    env, source = installed
    text = section("Dashboard and metrics")
    [install] = literal_commands(text, "pip install")
    ran = subprocess.run(["bash", "-c", install], cwd=source, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    [serve] = literal_commands(text, "gjobs web --")
    port = free_port()
    log = tmp_path / "web.log"
    command = serve.replace(README_URL, redis_process.url).split() + ["--bind", f"127.0.0.1:{port}"]
    with open(log, "wb") as out:
        web = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: "login?token=" in log.read_text(), timeout=30, message="gjobs web to start")

        def get(path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
                return response.status, response.read().decode()

        status, page = get("/")
        assert status == 200 and 'id="queues"' in page, page[:500]
        assert get("/static/gjobs.js")[0] == 200
        assert "# HELP gjobs_ready " in get("/metrics")[1]
    finally:
        web.send_signal(signal.SIGTERM)
        assert web.wait(30) == 0, log.read_text()
