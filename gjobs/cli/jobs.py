"""``gjobs`` commands that follow and steer jobs and queues: ``job show|cancel``, ``ready
list|delete``, ``delayed list|run-now|delete``, ``pause``, ``resume``, ``queues forget`` and
``purge``.

Listings are paged (one range read and one payload read a page), and ``delayed run-now --all``
moves the delayed set a bounded batch at a time: no command reads a whole list or set at once.
"""

from __future__ import annotations

import argparse
from typing import Any, Callable, List, TextIO

from gjobs import clock
from gjobs.cli import show
from gjobs.cli.common import Failure, UsageError
from gjobs.cli.types import non_negative_int, positive_int, queue_name
from gjobs.keys import text
from gjobs.queue import Queue

#: Jobs listed by ``gjobs ready list`` and ``gjobs delayed list`` when no ``--limit`` is given.
DEFAULT_LIMIT = 20
#: Delayed jobs moved per round trip by ``gjobs delayed run-now --all``.
RUN_NOW_BATCH = 500


Common = Callable[..., None]


def register(commands: Any, common: Common) -> None:
    """Add the subcommands of this module to ``commands``; ``common(parser)`` adds the options
    every subcommand takes (``--redis-url``, ``--prefix``, ``--json``)."""
    job = commands.add_parser("job", help="one job by its id: show, cancel")
    job_commands = job.add_subparsers(dest="action", metavar="ACTION")
    job_commands.required = True
    for action, run, says in (("show", cmd_job_show, "a job's state, attempts, times, progress and error"),
                              ("cancel", cmd_job_cancel, "make a queued or running job never run (again)")):
        sub = job_commands.add_parser(action, help=says)
        common(sub)
        sub.add_argument("id", help="the job id")
        sub.set_defaults(run=run)

    for name, what in (("ready", "jobs waiting their turn"), ("delayed", "jobs due later")):
        group = commands.add_parser(name, help=f"{what}: list, {'run-now, ' if name == 'delayed' else ''}delete")
        actions = group.add_subparsers(dest="action", metavar="ACTION")
        actions.required = True
        first = "next to run" if name == "ready" else "soonest due"
        listing = actions.add_parser("list", help=f"a page of the {name} jobs, the {first} first")
        common(listing)
        listing.add_argument("--limit", type=positive_int, default=DEFAULT_LIMIT,
                             help=f"how many to show (default {DEFAULT_LIMIT})")
        listing.add_argument("--offset", type=non_negative_int, default=0, help="skip this many first")
        listing.set_defaults(run=cmd_list, which=name)
        if name == "delayed":
            now = actions.add_parser("run-now", help="move the given delayed jobs, or --all, to the ready list's front")
            common(now)
            now.add_argument("ids", nargs="*", metavar="ID", help="job ids")
            now.add_argument("--all", action="store_true", help="every delayed job of the queue")
            now.set_defaults(run=cmd_run_now)
        delete = actions.add_parser("delete", help=f"cancel the given {name} jobs")
        common(delete)
        delete.add_argument("ids", nargs="+", metavar="ID", help="job ids")
        delete.set_defaults(run=cmd_delete)

    for name, says in (("pause", "workers stop taking the queue's jobs; enqueues go on"),
                       ("resume", "workers take the queue's jobs again")):
        sub = commands.add_parser(name, help=says)
        common(sub)
        sub.set_defaults(run=cmd_pause, pause=name == "pause")

    queues = commands.add_parser("queues", help="the list of known queues: forget")
    queue_commands = queues.add_subparsers(dest="action", metavar="ACTION")
    queue_commands.required = True
    forget = queue_commands.add_parser("forget", help="drop an empty queue without workers, and its counters")
    common(forget, prefix=False)
    forget.add_argument("name", type=queue_name, metavar="NAME", help="the queue")
    forget.set_defaults(run=cmd_forget)

    purge = commands.add_parser("purge", help="empty a queue: remove every ready and delayed job (needs --yes)")
    common(purge)
    purge.add_argument("--yes", action="store_true", help="yes, remove them")
    purge.set_defaults(run=cmd_purge)


# -- one job ----------------------------------------------------------------------------------


def cmd_job_show(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    info = Queue(client, args.prefix).job(args.id)
    if info.state == "unknown":
        raise Failure(f"unknown job {args.id!r} in queue {args.prefix!r}")
    show.answer(out, args.json, info.as_dict(), show.render_job(info, clock.now()))
    return 0


def cmd_job_cancel(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if not Queue(client, args.prefix).cancel(args.id):
        raise Failure(f"no queued or running job {args.id!r} in queue {args.prefix!r}")
    show.answer(out, args.json, {"id": args.id, "cancelled": True}, f"cancelled {args.id}\n")
    return 0


def cmd_delete(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    queue = Queue(client, args.prefix)
    cancelled: List[str] = []
    missing: List[str] = []
    for job_id in dict.fromkeys(args.ids):
        (cancelled if queue.cancel(job_id) else missing).append(job_id)
    show.answer(out, args.json, {"cancelled": cancelled, "not_found": missing},
                "".join(f"cancelled {job_id}\n" for job_id in cancelled))
    if missing:
        raise Failure(f"no queued or running job in queue {args.prefix!r}: {', '.join(missing)}")
    return 0


# -- listings ---------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    queue = Queue(client, args.prefix)
    delayed = args.which == "delayed"
    entries = (queue.control.delayed if delayed else queue.control.ready)(args.limit, args.offset)
    total = queue.delayed_jobs.size() if delayed else queue.ready_list.size()
    if args.json:
        shown = [show.listed_json(entry, delayed) for entry in entries]
        show.print_json(out, {"total": total, "offset": args.offset, args.which: shown})
        return 0
    if not total:
        out.write(f"no {args.which} jobs in {args.prefix}\n")
        return 0
    if entries:
        now = clock.now()
        rows = [[entry.id, *([show.due_in(entry.due_at, now)] if delayed else []), show.cut(show.job_text(entry.job))]
                for entry in entries]
        out.write(show.table(["ID", *(["DUE IN"] if delayed else []), "JOB"], rows))
    if len(entries) < total:
        out.write(f"({len(entries)} of {total} shown; --limit and --offset show others)\n")
    return 0


# -- changes ----------------------------------------------------------------------------------


def cmd_run_now(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if args.all == bool(args.ids):
        raise UsageError("give the ids of the delayed jobs to run now, or --all")
    queue = Queue(client, args.prefix)
    missing: List[str] = []
    if args.all:
        moved = _run_all(queue)
    else:
        ids = list(dict.fromkeys(args.ids))
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.zscore(queue.keys.delayed, job_id)
        missing = [job_id for job_id, due in zip(ids, pipe.execute()) if due is None]
        moved = queue.control.run_now([job_id for job_id in ids if job_id not in missing])
    show.answer(out, args.json, {"run_now": moved, "not_delayed": missing},
                f"moved {moved} delayed jobs of {args.prefix} to the front of the ready list\n")
    if missing:
        raise Failure(f"not in the delayed set of {args.prefix}: {', '.join(missing)}")
    return 0


def _run_all(queue: Queue) -> int:
    """Move every delayed job to the ready list, :data:`RUN_NOW_BATCH` at a time, the soonest
    first. Jobs delayed meanwhile are moved too, up to as many as there were at the start, so
    that a busy producer cannot keep it going forever."""
    left = queue.delayed_jobs.size()
    moved = 0
    while moved < left:
        batch = queue.client.zrange(queue.keys.delayed, 0, min(RUN_NOW_BATCH, left - moved) - 1)
        if not batch:
            break
        done = queue.control.run_now([text(member) for member in batch])
        if not done:
            break  # all taken by someone else (promoted or cancelled) meanwhile: look again
        moved += done
    return moved


def cmd_pause(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    queue = Queue(client, args.prefix)
    if args.pause:
        queue.pause()
    else:
        queue.resume()
    show.answer(out, args.json, {"prefix": args.prefix, "paused": args.pause},
                f"{'paused' if args.pause else 'resumed'} {args.prefix}\n")
    return 0


def cmd_forget(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if not Queue(client, args.name).control.forget():
        raise Failure(f"queue {args.name!r} still has jobs or workers; purge it first "
                      "(gjobs purge --yes, and gjobs dead purge --all for its dead jobs)")
    show.answer(out, args.json, {"prefix": args.name, "forgotten": True}, f"forgot queue {args.name}\n")
    return 0


def cmd_purge(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if not args.yes:
        raise UsageError(f"purge removes every ready and delayed job of {args.prefix!r}; add --yes")
    removed = Queue(client, args.prefix).control.purge()
    show.answer(out, args.json, {"prefix": args.prefix, "purged": removed}, f"purged {removed} jobs of {args.prefix}\n")
    return 0
