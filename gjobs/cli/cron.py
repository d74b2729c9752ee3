"""``gjobs cron list|run|pause|resume``: the periodic jobs of a queue, as its workers declared them."""

from __future__ import annotations

import argparse
from typing import Any, Callable, TextIO

from gjobs.cli import show
from gjobs.cli.common import Failure
from gjobs.clock import redis_now
from gjobs.cron_table import ScheduleInfo, UnknownSchedule
from gjobs.queue import Queue

Common = Callable[..., None]


def register(commands: Any, common: Common) -> None:
    """Add ``cron`` and its actions to ``commands`` (``common`` adds the shared options)."""
    cron = commands.add_parser("cron", help="periodic jobs: list, run, pause, resume")
    actions = cron.add_subparsers(dest="action", metavar="ACTION")
    actions.required = True
    listing = actions.add_parser("list", help="every schedule the running workers declare")
    common(listing)
    listing.set_defaults(run=cmd_list)
    for action, says in (("run", "enqueue a schedule's job now, once"),
                         ("pause", "skip a schedule's ticks until it is resumed"),
                         ("resume", "fire a paused schedule's ticks again")):
        sub = actions.add_parser(action, help=says)
        common(sub)
        sub.add_argument("name", help="the schedule's name (gjobs cron list shows them)")
        sub.set_defaults(run=cmd_steer, action=action)


def _when(info: ScheduleInfo) -> str:
    if info.cron is not None:
        return info.cron + (f" ({info.tz})" if info.tz else "")
    return f"every {show.age(info.every or 0)}"


def cmd_list(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    found = Queue(client, args.prefix).schedules.list()
    if args.json:
        show.print_json(out, {"prefix": args.prefix, "schedules": [info.as_dict() for info in found]})
        return 0
    if not found:
        out.write(f"no schedules in {args.prefix} (none is declared by a running worker)\n")
        return 0
    now = redis_now(client)  # the clock the ticks are judged by
    rows = [[info.name, _when(info), show.due_in(info.next_at, now) if info.next_at else "?",
             f"{show.age(now - info.last_at)} ago" if info.last_at else "never",
             info.last_state or "-", "yes" if info.paused else "no"] for info in found]
    out.write(show.table(["NAME", "WHEN", "NEXT IN", "LAST", "LAST JOB", "PAUSED"], rows))
    return 0


def cmd_steer(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    table = Queue(client, args.prefix).schedules
    try:
        if args.action == "run":
            job_id = table.run(args.name)
        else:
            getattr(table, args.action)(args.name)
    except UnknownSchedule as error:
        raise Failure(str(error)) from None
    if args.action == "run":
        show.answer(out, args.json, {"name": args.name, "run": True, "id": job_id},
                    f"enqueued {job_id} for schedule {args.name}\n")
    else:
        show.answer(out, args.json, {"name": args.name, args.action: True}, f"{args.action}d schedule {args.name}\n")
    return 0
