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


def results():
    return {"notes": [[note.text, note.done] for note in Note.objects.order_by("id")]}


print(json.dumps(globals()[sys.argv[1]]()))
