"""The dashboard (``gjobs.web``) served by others, against a real redis-server: mounted under a
path of a Flask app (``GJobs.dashboard()``) and of a Django project (``gjobs.contrib.django.views``),
each behind the app's own authentication, and alone under ``gunicorn -k gevent``.

Each mount promises the same: the app's guard refuses whoever it refuses, every link stays under
the mount, an action with the dashboard's CSRF token changes Redis through the mount, and one
without is refused even for a user the app lets in.
"""

import json
import re
import subprocess
import sys
import uuid

import pytest
import redis
from flask import Flask, abort, session
from prometheus_client.parser import text_string_to_metric_families

from gjobs import Queue, tasks
from gjobs.contrib.flask import GJobs

from . import test_gunicorn
from .browser import Http
from .test_django import PROJECT
from .test_gunicorn import environment

gunicorns = test_gunicorn.gunicorns  # the fixture that starts gunicorns and cleans up after them

#: The set of every queue a worker has started on: the dashboard shows those by default.
QUEUES = "gjobs:queues"
MOUNT = "/admin/gjobs"
#: What the dashboard says when an action's CSRF token is missing or wrong.
CSRF_REFUSED = "CSRF token does not match"
TOKEN = "token-for-the-gunicorn-test"


def links(page):
    """Every address a page links to, loads or posts to."""
    return re.findall(r'(?:href|src|action|formaction)="([^"]*)"', page)


def paused(client, prefix):
    return Queue(client, prefix).control.paused()


@pytest.fixture
def known(real_client, prefix):
    """This test's queue, known to the dashboard as if a worker had started on it."""
    real_client.sadd(QUEUES, prefix)
    yield prefix
    real_client.srem(QUEUES, prefix)


# -- Flask ------------------------------------------------------------------------------------


def guarded_app(jobs, url, prefix):
    """A Flask app whose dashboard at /admin/gjobs is for sessions that logged in as admin."""
    app = Flask(__name__)
    app.config.update(GJOBS_URL=url, GJOBS_PREFIX=prefix, SECRET_KEY="tests-only")
    dashboard = jobs.dashboard()

    @dashboard.before_request
    def admins_only():
        if not session.get("admin"):
            abort(403)

    @app.post("/login")
    def login():
        session["admin"] = True
        return "", 204

    jobs.init_app(app)
    app.register_blueprint(dashboard, url_prefix=MOUNT)
    return app


@pytest.fixture
def flask_app(redis_process, known):
    # The blueprint is made before the extension is bound to the app, as in an app factory.
    yield guarded_app(GJobs(), redis_process.url, known)
    tasks.set_default_queue(None)


@pytest.fixture
def admin(flask_app):
    """A test client whose session has logged in."""
    client = flask_app.test_client()
    assert client.post("/login").status_code == 204
    return client


def test_flask_refuses_the_mount_to_a_visitor_the_apps_guard_refuses(flask_app, real_client, known):
    visitor = flask_app.test_client()
    for path in ("/", "/workers", f"/queues/{known}", "/metrics", "/static/gjobs.css"):
        assert visitor.get(MOUNT + path).status_code == 403, path
    assert visitor.post(f"{MOUNT}/queues/{known}/pause").status_code == 403
    assert not paused(real_client, known)


def test_flask_serves_the_overview_with_every_link_under_the_mount(admin, known):
    page = admin.get(f"{MOUNT}/")
    assert page.status_code == 200
    addresses = links(page.text)
    assert f"{MOUNT}/queues/{known}" in addresses and f"{MOUNT}/static/gjobs.css" in addresses
    assert all(address.startswith(f"{MOUNT}/") for address in addresses), addresses
    assert admin.get_cookie("gjobs_csrf", path=f"{MOUNT}/") is not None
    assert admin.get(MOUNT).headers["Location"].endswith(f"{MOUNT}/")  # the bare mount redirects to it


def test_flask_pauses_a_queue_through_the_mount_with_the_csrf_token(admin, real_client, known):
    admin.get(f"{MOUNT}/")
    csrf = admin.get_cookie("gjobs_csrf", path=f"{MOUNT}/").value

    done = admin.post(f"{MOUNT}/queues/{known}/pause", data={"csrf": csrf}, headers={"Origin": "http://localhost"})

    assert (done.status_code, done.headers["Location"]) == (303, f"{MOUNT}/queues/{known}")
    assert paused(real_client, known)
    assert f"queue {known} paused" in admin.get(done.headers["Location"]).text  # the flash, through the mount


def test_flask_refuses_an_action_without_the_csrf_token_to_a_logged_in_admin(admin, real_client, known):
    admin.get(f"{MOUNT}/")
    for form in ({}, {"csrf": "x" * 43}):
        refused = admin.post(f"{MOUNT}/queues/{known}/pause", data=form)
        assert refused.status_code == 403 and CSRF_REFUSED in refused.text
    assert not paused(real_client, known)


def test_flask_links_stay_under_the_mount_when_the_app_itself_has_a_script_name(admin, known):
    page = admin.get(f"{MOUNT}/queues/{known}", base_url="http://localhost/app")
    assert page.status_code == 200
    assert all(address.startswith(f"/app{MOUNT}/") or address.startswith("?") for address in links(page.text))


def test_flask_the_blueprint_needs_the_extension_bound_to_an_app(redis_process, known):
    app = Flask(__name__)
    app.register_blueprint(GJobs().dashboard(), url_prefix=MOUNT)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    with pytest.raises(RuntimeError, match="not bound to an app"):
        app.test_client().get(f"{MOUNT}/")


# -- Django -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_seen(redis_process, tmp_path_factory):
    """What the project's test client saw at /admin/gjobs/ (``notes.scenarios.dashboard``), once
    for the module, on a queue of its own."""
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    client = redis.Redis(port=redis_process.port, host="127.0.0.1")
    client.sadd(QUEUES, prefix)
    env = environment(redis_process.url, prefix, PROJECT)
    env.update(DJANGO_SETTINGS_MODULE="site_conf.settings",
               NOTES_DB=str(tmp_path_factory.mktemp("django") / "notes.sqlite3"))
    try:
        ran = subprocess.run([sys.executable, "-m", "notes.scenarios", "dashboard"], cwd=PROJECT, env=env,
                             capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        yield prefix, json.loads(ran.stdout.splitlines()[-1])
    finally:
        client.srem(QUEUES, prefix)
        client.close()


def test_django_sends_a_visitor_and_a_user_who_is_not_staff_to_the_admin_login(django_seen):
    prefix, seen = django_seen
    for who in ("visitor home", "user home"):
        assert (seen[who]["status"], seen[who]["location"]) == (302, f"/admin/login/?next={MOUNT}/"), who
    assert seen["visitor pause"]["status"] == 302 and seen["visitor pause"]["location"].startswith("/admin/login/")


def test_django_serves_staff_the_overview_with_every_link_under_the_mount(django_seen):
    prefix, seen = django_seen
    home = seen["staff home"]
    assert home["status"] == 200
    addresses = links(home["body"])
    assert f"{MOUNT}/queues/{prefix}" in addresses and f"{MOUNT}/static/gjobs.css" in addresses
    assert all(address.startswith(f"{MOUNT}/") for address in addresses), addresses
    csrf = home["cookies"]["gjobs_csrf"]
    assert (csrf["path"], csrf["httponly"], csrf["samesite"]) == (f"{MOUNT}/", True, "Strict")


def test_django_lets_the_dashboards_own_csrf_token_through_and_pauses_the_queue(django_seen):
    """Django's CSRF check is enforced in the project, and the view is exempt from it."""
    prefix, seen = django_seen
    done = seen["staff pause"]
    assert (done["status"], done["location"]) == (303, f"{MOUNT}/queues/{prefix}")
    assert seen["paused"] is True
    assert done["cookies"]["gjobs_flash"]["path"] == f"{MOUNT}/"
    after = seen["queue page after"]
    assert f"queue {prefix} paused" in after["body"] and after["cookies"]["gjobs_flash"]["max-age"] == "0"


def test_django_keeps_every_cookie_the_dashboard_sets_in_one_response(django_seen):
    prefix, seen = django_seen
    cookies = seen["two cookies"]["cookies"]
    assert sorted(cookies) == ["gjobs_csrf", "gjobs_flash"]
    assert len(cookies["gjobs_csrf"]["value"]) >= 32 and cookies["gjobs_flash"]["max-age"] == "0"


def test_django_refuses_an_action_without_the_csrf_token_to_staff(django_seen):
    prefix, seen = django_seen
    refused = seen["staff pause without csrf"]
    assert refused["status"] == 403 and CSRF_REFUSED in refused["body"]
    assert seen["paused without csrf"] is False


def test_django_refuses_an_action_posted_from_another_site_to_staff(django_seen):
    """Django's CSRF check skips the view: the dashboard's own Origin check still refuses."""
    prefix, seen = django_seen
    refused = seen["staff pause from another site"]
    assert refused["status"] == 403 and "another origin (https://evil.example)" in refused["body"]
    assert seen["paused from another site"] is False


def test_django_serves_the_metrics_under_the_mount(django_seen):
    prefix, seen = django_seen
    families = {family.name: family for family in text_string_to_metric_families(seen["metrics"]["body"])}
    assert {sample.labels["queue"] for sample in families["gjobs_ready"].samples} >= {prefix}


# -- gunicorn ---------------------------------------------------------------------------------


def metric(text, name, prefix):
    """The value of the sample ``name`` of the queue ``prefix`` in the exposition ``text``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels.get("queue") == prefix:
                return sample.value
    return None


def test_gunicorn_serves_the_dashboard_factory_its_overview_metrics_and_actions(
    redis_process, real_client, known, gunicorns, tmp_path
):
    Queue(real_client, known).enqueue({"n": 1})
    web = gunicorns(tmp_path, f'gjobs.web:app("{redis_process.url}", auth="{TOKEN}")',
                    environment(redis_process.url, known))
    browser = Http(web.url(""))

    status, _, page = browser.get("/")
    assert status == 200 and f"/queues/{known}" in links(page)
    status, headers, text = browser.get("/metrics")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert metric(text, "gjobs_ready", known) == 1.0

    assert browser.post(f"/queues/{known}/pause", {"csrf": browser.cookie("gjobs_csrf")})[0] == 403  # no login
    assert browser.get(f"/login?token={TOKEN}")[0] == 303
    assert browser.post(f"/queues/{known}/pause", {"csrf": browser.cookie("gjobs_csrf")})[0] == 303
    assert paused(real_client, known)


def test_gunicorn_serves_the_django_project_with_the_dashboard_behind_the_admin_login(
    redis_process, real_client, known, gunicorns, tmp_path
):
    env = environment(redis_process.url, known, PROJECT)
    env.update(DJANGO_SETTINGS_MODULE="site_conf.settings", NOTES_DB=str(tmp_path / "notes.sqlite3"),
               DJANGO_SUPERUSER_PASSWORD="staff-password")
    for command in (["migrate"], ["createsuperuser", "--noinput", "--username", "staff", "--email", "s@example.com"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=PROJECT, env=env, check=True,
                       capture_output=True, timeout=60)
    web = gunicorns(PROJECT, "site_conf.wsgi", env)
    browser = Http(web.url(""))
    assert browser.get(f"{MOUNT}/")[0] == 302

    status, _, page = browser.get(f"/admin/login/?next={MOUNT}/")
    django_csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    status, headers, _ = browser.post("/admin/login/", {"username": "staff", "password": "staff-password",
                                                        "csrfmiddlewaretoken": django_csrf, "next": f"{MOUNT}/"})
    assert (status, headers["Location"]) == (302, f"{MOUNT}/")
    status, _, page = browser.get(f"{MOUNT}/")
    assert status == 200 and f"{MOUNT}/queues/{known}" in links(page)

    here = f"{MOUNT}/queues/{known}"
    assert browser.post(f"{here}/pause", {})[0] == 403 and not paused(real_client, known)
    status, headers, _ = browser.post(f"{here}/pause", {"csrf": browser.cookie("gjobs_csrf")})
    assert (status, headers["Location"]) == (303, here) and paused(real_client, known)
    assert f"queue {known} paused" in browser.get(here)[2]
