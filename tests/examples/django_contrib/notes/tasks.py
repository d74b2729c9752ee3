"""The notes app's tasks: found by gjobs.contrib.django in the app's ``tasks`` module."""

import gevent

import gjobs
from notes.models import Note


@gjobs.task
def mark_done(note_id):
    """Needs the note's row: enqueued with delay_on_commit, it runs only once the row exists."""
    note = Note.objects.get(id=note_id)
    note.done = True
    note.save()


@gjobs.task
def add_note(text):
    """Writes while other jobs of the same worker write too (each greenlet has its connection)."""
    gevent.sleep(0.05)
    Note.objects.create(text=text)
