"""What the dashboard's buttons do: each a function of a queue and the posted form, returning the
line the next page shows. Every one goes through the same calls as ``gjobs`` on the command line
(:class:`gjobs.control.Control`, the dead set, the schedules), so each change is the one script
(or bounded batches of it) that the CLI runs.
"""

from __future__ import annotations

from typing import Callable, Dict, List, Optional

from werkzeug.datastructures import MultiDict

from ..cron_table import UnknownSchedule
from ..queue import Queue

#: Ids one form may name at most (a page shows 20; the rest is someone's script).
MAX_IDS = 1000


class BadForm(ValueError):
    """A form that names nothing to act on, or too much."""


def chosen(form: "MultiDict[str, str]") -> Optional[List[str]]:
    """The ids a form names: ``one`` (a row's own button), else the ticked ``id`` boxes; None
    for ``all``."""
    if form.get("all") == "1" and not form.get("one"):
        return None
    ids = [form["one"]] if form.get("one") else form.getlist("id")
    if not ids:
        raise BadForm("no job was selected")
    if len(ids) > MAX_IDS:
        raise BadForm(f"at most {MAX_IDS} jobs at a time")
    return ids


def plural(count: int, what: str) -> str:
    return f"{count} {what}" if count == 1 else f"{count} {what.replace('job', 'jobs', 1)}"


def pause(queue: Queue, form: "MultiDict[str, str]") -> str:
    queue.pause()
    return f"queue {queue.prefix} paused: workers take none of its jobs until it is resumed"


def resume(queue: Queue, form: "MultiDict[str, str]") -> str:
    queue.resume()
    return f"queue {queue.prefix} resumed"


def dead_retry(queue: Queue, form: "MultiDict[str, str]") -> str:
    return plural(queue.retry_dead(chosen(form)), "dead job") + " retried"


def dead_delete(queue: Queue, form: "MultiDict[str, str]") -> str:
    return plural(queue.purge_dead(chosen(form)), "dead job") + " deleted"


def delete(queue: Queue, form: "MultiDict[str, str]") -> str:
    """Ready or delayed jobs removed, the way ``gjobs ready delete`` removes them (a cancel)."""
    ids = chosen(form) or []
    return plural(sum(queue.cancel(job_id) for job_id in ids), "job") + " deleted"


def run_now(queue: Queue, form: "MultiDict[str, str]") -> str:
    return plural(queue.control.run_now(chosen(form) or []), "delayed job") + " moved to the front of the queue"


def cancel(queue: Queue, form: "MultiDict[str, str]") -> str:
    job_id = form.get("one", "")
    if queue.cancel(job_id):
        return f"job {job_id} cancelled"
    return f"job {job_id} was not queued or running: nothing to cancel"


def schedule(verb: str) -> Callable[[Queue, "MultiDict[str, str]"], str]:
    """``run``, ``pause`` or ``resume`` the schedule the form names."""

    def act(queue: Queue, form: "MultiDict[str, str]") -> str:
        name = form.get("schedule", "")
        try:
            if verb == "run":
                return f"schedule {name} ran now: job {queue.schedules.run(name)}"
            getattr(queue.schedules, verb)(name)
        except UnknownSchedule as error:
            raise BadForm(str(error)) from None
        return f"schedule {name} {verb}d"

    return act


#: Action name (the last part of its URL) -> what it does.
ACTIONS: Dict[str, Callable[[Queue, "MultiDict[str, str]"], str]] = {
    "pause": pause, "resume": resume, "dead-retry": dead_retry, "dead-delete": dead_delete,
    "delete": delete, "run-now": run_now, "cancel": cancel,
    "schedule-run": schedule("run"), "schedule-pause": schedule("pause"), "schedule-resume": schedule("resume"),
}
