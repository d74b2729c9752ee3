"""What the tests do inside the Django project, each printing one JSON line."""

import json
import sys

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from gjobs.contrib.django import DatabaseConnections, queue  # noqa: E402
from gjobs.middleware import JobContext  # noqa: E402
from notes.models import Note  # noqa: E402
from notes.tasks import add_note, mark_done  # noqa: E402


def commit():
    call_command("migrate", verbosity=0)
    with transaction.atomic():
        note = Note.objects.create(text="write the report")
        mark_done.delay_on_commit(note.id)
        inside = queue().ready_list.size()
    return {"inside": inside, "after": queue().ready_list.size(), "note": note.id}


def rollback():
    call_command("migrate", verbosity=0)
    try:
        with transaction.atomic():
            note = Note.objects.create(text="never")
            mark_done.delay_on_commit(note.id)
            raise RuntimeError("the request failed")
    except RuntimeError:
        pass
    return {"ready": queue().ready_list.size()}


def concurrent():
    call_command("migrate", verbosity=0)
    for n in range(8):
        add_note.delay(f"note {n}")
    return {"ready": queue().ready_list.size()}


def around():
    """A connection open before a job is closed on entry (past CONN_MAX_AGE 0), and the one the
    job opened is closed on exit."""
    call_command("migrate", verbosity=0)
    Note.objects.count()
    before = connection.connection is not None
    with DatabaseConnections().around(JobContext("id", "q", 1, {}, None)):
        entered = connection.connection is None
        Note.objects.count()
        used = connection.connection is not None
    return {"open before": before, "closed on entry": entered, "opened": used,
            "closed on exit": connection.connection is None}


def dashboard():
    """The dashboard at /admin/gjobs/ through the project's whole stack (sessions, auth, Django's
    CSRF check enforced), for a visitor, a logged-in user who is not staff, and a staff user."""
    from django.contrib.auth.models import User
    from django.test import Client
    from django.test.utils import setup_test_environment

    setup_test_environment()  # lets the test client's host in, as Django's test runner does
    call_command("migrate", verbosity=0)
    clients = {name: Client(enforce_csrf_checks=True) for name in ("visitor", "user", "staff")}
    for name in ("user", "staff"):
        clients[name].force_login(User.objects.create_user(name, is_staff=name == "staff"))
    home, here = "/admin/gjobs/", f"/admin/gjobs/queues/{queue().prefix}"

    def seen(response):
        return {"status": response.status_code, "location": response.get("Location"),
                "body": response.content.decode(), "cookies": {name: dict(morsel, value=morsel.value)
                                                              for name, morsel in response.cookies.items()}}

    staff = clients["staff"]
    said = {f"{name} home": seen(client.get(home)) for name, client in clients.items()}
    said["visitor pause"] = seen(clients["visitor"].post(f"{here}/pause"))
    said["staff pause without csrf"] = seen(staff.post(f"{here}/pause"))
    said["paused without csrf"] = queue().control.paused()
    csrf = {"csrf": staff.cookies["gjobs_csrf"].value}
    said["staff pause from another site"] = seen(staff.post(f"{here}/pause", csrf, HTTP_ORIGIN="https://evil.example"))
    said["paused from another site"] = queue().control.paused()
    said["staff pause"] = seen(staff.post(f"{here}/pause", csrf, HTTP_ORIGIN="http://testserver"))
    said["paused"] = queue().control.paused()
    said["queue page after"] = seen(staff.get(here))
    said["metrics"] = seen(staff.get(f"{home}metrics"))
    newcomer = Client(enforce_csrf_checks=True)  # a flash to clear and no CSRF cookie yet: two cookies
    newcomer.force_login(User.objects.get(username="staff"))
    newcomer.cookies["gjobs_flash"] = "hello"
    said["two cookies"] = seen(newcomer.get(home))
    return said


def results():
    return {"notes": [[note.text, note.done] for note in Note.objects.order_by("id")]}


print(json.dumps(globals()[sys.argv[1]]()))
