"""gjobs.contrib.django with a real Django project on SQLite (tests/examples/django_contrib):
settings, tasks found in installed apps, manage.py gjobs_worker, delay_on_commit on commit and on
rollback, and database connections closed around each job."""

import json
import subprocess
import sys

import pytest

from gjobs import Queue

from .test_gunicorn import EXAMPLES, environment

PROJECT = EXAMPLES / "django_contrib"


@pytest.fixture
def env(redis_process, prefix, tmp_path):
    made = environment(redis_process.url, prefix, PROJECT)
    made.update(DJANGO_SETTINGS_MODULE="site_conf.settings", NOTES_DB=str(tmp_path / "notes.sqlite3"))
    return made


def scenario(env, name):
    ran = subprocess.run([sys.executable, "-m", "notes.scenarios", name], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return json.loads(ran.stdout.splitlines()[-1])


def gjobs_worker(env, *args):
    ran = subprocess.run([sys.executable, "manage.py", "gjobs_worker", "--burst", *args], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    return ran


def test_delay_on_commit_enqueues_when_the_transaction_commits(env):
    assert scenario(env, "commit") == {"inside": 0, "after": 1, "note": 1}


def test_delay_on_commit_enqueues_nothing_when_it_rolls_back(env):
    assert scenario(env, "rollback") == {"ready": 0}


def test_manage_py_gjobs_worker_runs_the_tasks_of_installed_apps(env, real_client, prefix):
    scenario(env, "commit")
    gjobs_worker(env)
    assert scenario(env, "results") == {"notes": [["write the report", True]]}
    assert Queue(real_client, prefix).stats()["completed"] == 1


def test_jobs_running_at_once_in_one_worker_each_have_a_database_connection(env):
    scenario(env, "concurrent")
    gjobs_worker(env, "--concurrency", "4")
    assert sorted(text for text, _ in scenario(env, "results")["notes"]) == [f"note {n}" for n in range(8)]


def test_connections_are_closed_before_and_after_each_job_as_around_a_request(env):
    assert scenario(env, "around") == {"open before": True, "closed on entry": True, "opened": True,
                                       "closed on exit": True}


def test_a_bad_gjobs_setting_is_named(env, tmp_path):
    settings = tmp_path / "bad_settings.py"
    settings.write_text("from site_conf.settings import *\nGJOBS = {'urls': 'redis://x'}\n")
    env = dict(env, DJANGO_SETTINGS_MODULE="bad_settings", PYTHONPATH=f"{tmp_path}:{env['PYTHONPATH']}")
    ran = subprocess.run([sys.executable, "manage.py", "gjobs_worker", "--burst"], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode != 0 and "GJOBS has unknown keys ['urls']" in ran.stderr
