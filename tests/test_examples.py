"""The Flask and Django examples of the README, run for real under ``gunicorn -k gevent``."""

from gjobs import Queue

from . import test_gunicorn
from .helpers import wait_for
from .test_gunicorn import EXAMPLES, environment, run_worker

gunicorns = test_gunicorn.gunicorns  # the fixture that starts gunicorns and cleans up after them

FLASK = EXAMPLES / "flask_app"
DJANGO = EXAMPLES / "django_project"


def test_the_flask_view_enqueues_and_the_tasks_run_inside_gunicorn(redis_process, real_client, prefix, gunicorns):
    web = gunicorns(FLASK, "app:app", environment(redis_process.url, prefix, FLASK), FLASK / "gunicorn.conf.py")

    for _ in range(3):
        status, body = web.request("/pages/home/visit", data={})
        assert status == 202 and len(body["job"]) == 32

    wait_for(lambda: web.request("/pages/home")[1] == {"page": "home", "visits": 3},
             message="three visits counted by the tasks")
    assert web.stop() == 0
    assert Queue(real_client, prefix).stats()["workers"] == []  # both gunicorn workers left cleanly


def test_the_django_view_enqueues_and_a_gjobs_worker_sends_the_mail(redis_process, real_client, prefix, gunicorns):
    env = environment(redis_process.url, prefix, DJANGO)
    web = gunicorns(DJANGO, "mysite.wsgi", env)

    status, body = web.request("/signup", data={"email": "ann@example.com", "name": "Ann"})

    assert status == 202
    queue = Queue(real_client, prefix)
    assert queue.ready_list.peek() == [body["welcome_mail"]]

    worker = run_worker(["--import", "mysite.gjobs_worker", "--prefix", prefix, "--burst"], env)

    assert worker.returncode == 0, worker.stderr
    assert real_client.lrange(f"example:{prefix}:outbox", 0, -1) == [b"ann@example.com: Welcome, Ann!"]
    assert queue.stats()["completed"] == 1
