"""``gjobs``: look at a queue and repair it from the command line.

``gjobs stats [--watch]``, ``gjobs enqueue JSON [--at WHEN | --in DELAY]``,
``gjobs dead list|show|retry|purge``, ``gjobs workers``, ``gjobs ping``, and to follow and steer
jobs (see :mod:`gjobs.cli.jobs`): ``gjobs job show|cancel ID``, ``gjobs ready list|delete``,
``gjobs delayed list|run-now|delete``, ``gjobs pause|resume``, ``gjobs queues forget NAME`` and
``gjobs purge --yes``; the periodic jobs (see :mod:`gjobs.cli.cron`): ``gjobs cron
list|run|pause|resume``; and the dashboard, ``gjobs web`` (see :mod:`gjobs.cli.web`). Every
subcommand takes ``--redis-url`` (default ``$REDIS_URL``), ``--prefix`` (but ``queues forget``,
which names its queue) and ``--json`` (but ``web``); output is a table for people, or JSON for
scripts. Listings are paged (``--limit``, ``--offset``): none reads a whole
list. ``stats`` and ``workers`` show every queue a worker has started on (the registry at
:data:`gjobs.keys.QUEUES`) unless ``--prefix`` names some. Errors are one line on stderr: exit
status 2 for bad input (``purge`` without ``--yes``), 1 when Redis cannot be reached or refuses,
or the command cannot do what was asked (an unknown job id, a queue still in use). ``ping`` and
``stats`` warn on stderr (``gjobs: warning: ...``, never on stdout, so ``--json`` stays
parseable) when Redis may evict keys, queued jobs included. Passwords in URLs are never printed.

It needs no gevent (but ``gjobs web``, which serves browsers): it is a plain synchronous client,
like a cron script.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from typing import Any, Callable, List, Optional, TextIO

import redis

import gjobs
from gjobs import clock
from gjobs.cli import cron, jobs, show, web
from gjobs.cli.common import Failure, UsageError, redis_url
from gjobs.cli.types import non_negative_int, positive_float, positive_int, queue_name
from gjobs.coder import load_for_showing, parse_time
from gjobs.connection import DEFAULT_URL, connect, eviction_warning, redact, server_version
from gjobs.keys import QUEUES, text
from gjobs.queue import Queue

PROG = "gjobs"
#: Seconds between refreshes of ``gjobs stats --watch`` when no interval is given.
DEFAULT_WATCH_INTERVAL = 2.0
#: Seconds to wait for Redis to accept the connection, and for any reply.
CONNECT_TIMEOUT = 5.0
SOCKET_TIMEOUT = 10.0
#: Dead jobs listed by ``gjobs dead list`` when no ``--limit`` is given.
DEFAULT_DEAD_LIMIT = 20
#: Seconds per unit of an ``--in`` delay.
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line instead of argparse's usage block; --help still shows the usage.
        raise UsageError(f"{message} (see {self.prog} --help)")


# -- argument types ---------------------------------------------------------------------------


def _delay(text: str) -> float:
    """``90``, ``90s``, ``5m``, ``2h``, ``1d`` (or ``1.5h``) -> seconds."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a delay: use seconds, or a number with s, m, h or d")
    return float(match.group(1)) * _UNITS[match.group(2)]


def _time(text: str) -> float:
    try:
        value: Any = float(text)
    except ValueError:
        value = text
    try:
        due = parse_time(value)
    except (TypeError, ValueError) as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    if due is None or not math.isfinite(due):
        raise argparse.ArgumentTypeError(f"{text!r} is not a time")
    return due


# -- the parser -------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, many_prefixes: bool = False, prefix: bool = True,
            json: bool = True) -> None:
    """``--redis-url``, ``--json`` (unless ``json`` is False) and ``--prefix`` (repeatable with
    ``many_prefixes``; none without ``prefix``, for a command that names its queue)."""
    parser.add_argument("--redis-url", default=None, metavar="URL",
                        help=f"Redis to use (default: $REDIS_URL, else {DEFAULT_URL})")
    if many_prefixes:
        parser.add_argument("--prefix", dest="prefixes", action="append", type=queue_name, metavar="PREFIX",
                            help="queue to show (repeatable; default: every queue a worker has started on)")
    elif prefix:
        parser.add_argument("--prefix", default="gjobs", type=queue_name, help="queue name (default: gjobs)")
    if json:
        parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Look at, steer and repair gjobs queues and their jobs.")
    parser.add_argument("--version", action="version", version=f"gjobs {gjobs.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    stats = commands.add_parser("stats", help="the status line of each queue and of its workers")
    _common(stats, many_prefixes=True)
    stats.add_argument("--watch", nargs="?", const=DEFAULT_WATCH_INTERVAL, type=positive_float,
                       metavar="SECONDS",
                       help=f"refresh every SECONDS (default {DEFAULT_WATCH_INTERVAL:g}) until Ctrl-C")
    stats.add_argument("--count", type=positive_int, metavar="N", help="with --watch: stop after N refreshes")
    stats.set_defaults(run=cmd_stats)

    enqueue = commands.add_parser("enqueue", help="enqueue a JSON job (or a JSON list of jobs)")
    _common(enqueue)
    enqueue.add_argument("job", metavar="JSON", help="the job as a JSON object, a list of them, or - for stdin")
    when = enqueue.add_mutually_exclusive_group()
    when.add_argument("--at", type=_time, metavar="WHEN", help="run at WHEN: ISO-8601 time or epoch seconds")
    when.add_argument("--in", dest="delay", type=_delay, metavar="DELAY",
                      help="run after DELAY: seconds, or 30s, 5m, 2h, 1d")
    enqueue.set_defaults(run=cmd_enqueue)

    dead = commands.add_parser("dead", help="jobs that failed for good: list, show, retry, purge")
    dead_commands = dead.add_subparsers(dest="action", metavar="ACTION")
    dead_commands.required = True
    listing = dead_commands.add_parser("list", help="the most recent dead jobs")
    _common(listing)
    listing.add_argument("--limit", type=positive_int, default=DEFAULT_DEAD_LIMIT,
                         help=f"how many to show (default {DEFAULT_DEAD_LIMIT})")
    listing.add_argument("--offset", type=non_negative_int, default=0, help="skip this many of the most recent")
    listing.set_defaults(run=cmd_dead_list)
    show = dead_commands.add_parser("show", help="one dead job in full, with its traceback")
    _common(show)
    show.add_argument("id", help="the job id")
    show.set_defaults(run=cmd_dead_show)
    for action, verb in (("retry", "requeue, with attempts reset"), ("purge", "delete for good")):
        sub = dead_commands.add_parser(action, help=f"{verb} the given dead jobs, or --all")
        _common(sub)
        sub.add_argument("ids", nargs="*", metavar="ID", help="job ids")
        sub.add_argument("--all", action="store_true", help="every dead job of the queue")
        sub.set_defaults(run=cmd_dead_change, verb=action)

    workers = commands.add_parser("workers", help="the live workers of each queue")
    _common(workers, many_prefixes=True)
    workers.set_defaults(run=cmd_workers)

    ping = commands.add_parser("ping", help="check that Redis answers, and how fast")
    _common(ping)
    ping.set_defaults(run=cmd_ping)

    jobs.register(commands, _common)
    cron.register(commands, _common)
    web.register(commands, _common)
    return parser


# -- commands ---------------------------------------------------------------------------------


def known_queues(client: Any) -> List[str]:
    """The queues a worker has started on, sorted; ``["gjobs"]`` (the default queue) when none has."""
    names = sorted(text(name) for name in client.smembers(QUEUES))
    return names or ["gjobs"]


def cmd_stats(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if args.count and not args.watch:
        raise UsageError("--count goes with --watch")
    _warnings(client)  # once, not at every refresh of a watch
    shown = 0
    try:
        while True:
            now = clock.now()
            # Looked up at every refresh, so that a watch shows queues started meanwhile.
            stats = [Queue(client, name).stats() for name in (args.prefixes or known_queues(client))]
            if args.json:
                show.print_json(out, {"time": now, "queues": stats})
            else:
                if args.watch and out.isatty():
                    out.write("\x1b[H\x1b[2J")  # clear the screen, like watch(1)
                out.write(show.render_stats(stats, now))
            out.flush()
            shown += 1
            if not args.watch or (args.count and shown >= args.count):
                return 0
            time.sleep(args.watch)
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how a watch ends


def cmd_enqueue(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    text = sys.stdin.read() if args.job == "-" else args.job
    try:
        job = json.loads(text)
    except ValueError as error:
        raise UsageError(f"the job is not valid JSON: {error}") from None
    queue = Queue(client, args.prefix)
    due = args.at if args.delay is None else clock.now() + args.delay
    try:
        if isinstance(job, list):
            if due is not None:
                raise UsageError("--at and --in take one job, not a list")
            ids = queue.enqueue_many(job)
        elif due is not None:
            ids = [queue.enqueue_at(job, due)]
        else:
            ids = [queue.enqueue(job)]
    except (TypeError, ValueError) as error:
        raise UsageError(str(error)) from None
    show.answer(out, args.json, {"ids": ids, "due": due}, "".join(f"{job_id}\n" for job_id in ids))
    return 0


def cmd_dead_list(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    queue = Queue(client, args.prefix)
    entries = queue.dead(args.limit, args.offset)
    if args.json:
        show.print_json(out, {"total": queue.dead_set.size(), "dead": [show.dead_json(entry) for entry in entries]})
        return 0
    if not entries:
        out.write(f"no dead jobs in {args.prefix}\n")
        return 0
    now = clock.now()
    rows = [
        [entry.id, f"{show.age(now - entry.failed_at)} ago", str(entry.attempts),
         show.cut(show.error_line(entry.error)), show.cut(show.job_text(entry.job))]
        for entry in entries
    ]
    out.write(show.table(["ID", "DIED", "ATTEMPTS", "ERROR", "JOB"], rows))
    total = queue.dead_set.size()
    if total > args.offset + len(entries):
        out.write(f"({len(entries)} of {total} shown; --limit and --offset show others)\n")
    return 0


def cmd_dead_show(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    queue = Queue(client, args.prefix)
    entry = queue.dead_set.get(args.id)
    if entry is None:
        raise Failure(f"no dead job {args.id!r} in {args.prefix}")
    entry = entry._replace(job=load_for_showing(queue.coder, entry.job))
    if args.json:
        show.print_json(out, show.dead_json(entry))
        return 0
    error = entry.error
    lines = [
        f"id:        {entry.id}",
        f"died:      {show.when(entry.failed_at)} ({show.age(clock.now() - entry.failed_at)} ago)",
        f"attempts:  {entry.attempts}",
        f"worker:    {error.get('worker', '?')}",
        f"error:     {show.error_line(error)}",
        f"job:       {show.job_text(entry.job)}",
    ]
    if error.get("traceback"):
        lines += ["traceback:", error["traceback"].rstrip("\n")]
    out.write("\n".join(lines) + "\n")
    return 0


def cmd_dead_change(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    if args.all == bool(args.ids):
        raise UsageError(f"give the ids of the jobs to {args.verb}, or --all")
    queue = Queue(client, args.prefix)
    missing: List[str] = []
    ids = None
    if not args.all:
        ids = list(dict.fromkeys(args.ids))
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.zscore(queue.keys.dead, job_id)
        missing = [job_id for job_id, score in zip(ids, pipe.execute()) if score is None]
        ids = [job_id for job_id in ids if job_id not in missing]
    change = queue.retry_dead if args.verb == "retry" else queue.purge_dead
    done = change(ids) if ids is None or ids else 0
    show.answer(out, args.json, {args.verb: done, "not_dead": missing},
                f"{'requeued' if args.verb == 'retry' else 'purged'} {done} dead jobs of {args.prefix}\n")
    if missing:
        raise Failure(f"not in the dead set of {args.prefix}: {', '.join(missing)}")
    return 0


def cmd_workers(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    names = args.prefixes or known_queues(client)
    # A worker running several queues is listed once per queue, with what it runs of each.
    workers = [dict(worker, queue=name) for name in names for worker in Queue(client, name).stats()["workers"]]
    if args.json:
        show.print_json(out, {"queues": names, "workers": workers})
        return 0
    if not workers:
        out.write(f"no live workers on {', '.join(names)}\n")
        return 0
    now = clock.now()
    rows = [
        [w["queue"], w["id"], str(w.get("host", "?")), str(w.get("pid", "?")),
         f"{w.get('pending', 0)}/{w.get('concurrency', '?')}",
         show.age(now - w["started_at"]) if w.get("started_at") else "?", f"{show.age(now - w['last_beat'])} ago"]
        for w in workers
    ]
    headers = ["QUEUE", "WORKER", "HOST", "PID", "RUNNING", "UP", "LAST BEAT"]
    if len(names) == 1:  # the queue goes without saying
        headers, rows = headers[1:], [row[1:] for row in rows]
    out.write(show.table(headers, rows))
    return 0


def cmd_ping(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    started = time.perf_counter()
    client.ping()
    latency = (time.perf_counter() - started) * 1000
    version = ".".join(map(str, server_version(client))) or "unknown"
    warnings = _warnings(client)
    show.answer(out, args.json, {"ok": True, "url": redact(args.redis_url), "redis_version": version,
                                 "latency_ms": round(latency, 3), "warnings": warnings},
                f"PONG from Redis {version} at {redact(args.redis_url)} in {latency:.2f} ms\n")
    return 0


# -- main -------------------------------------------------------------------------------------


def _client(url: str) -> Any:
    try:
        return connect(url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=SOCKET_TIMEOUT)
    except ValueError as error:
        raise UsageError(f"bad --redis-url {redact(url)}: {redact(str(error))}") from None


def main(argv: Optional[List[str]] = None, out: Optional[TextIO] = None) -> int:
    """Run the ``gjobs`` command; returns the exit status (0 ok, 1 failed, 2 bad input)."""
    out = out or sys.stdout
    url = ""
    try:
        try:
            args = build_parser().parse_args(argv)
        except SystemExit as exit_:  # --help and --version
            return int(exit_.code or 0)
        url = args.redis_url = redis_url(args.redis_url)
        client = _client(url)
        try:
            run: Callable[[argparse.Namespace, Any, TextIO], int] = args.run
            return run(args, client, out)
        finally:
            client.close()
    except UsageError as error:
        _error(str(error))
        return 2
    except Failure as error:
        _error(str(error))
        return 1
    except (redis.ConnectionError, redis.TimeoutError, OSError) as error:
        if isinstance(error, BrokenPipeError):
            return 1  # the reader went away (| head); nothing more to say
        _error(f"cannot reach Redis at {redact(url)}: {redact(str(error))}")
        return 1
    except redis.RedisError as error:
        _error(f"Redis at {redact(url)} refused: {type(error).__name__}: {redact(str(error))}")
        return 1


def _warnings(client: Any) -> List[str]:
    """What is wrong with this Redis for gjobs (it may evict queued jobs), each printed on stderr
    as a ``gjobs: warning:`` line, so that ``--json`` output stays one document."""
    warnings = [warning for warning in [eviction_warning(client)] if warning]
    for warning in warnings:
        print(f"{PROG}: warning: {' '.join(warning.split())}", file=sys.stderr)
    return warnings


def _error(message: str) -> None:
    print(f"{PROG}: error: {' '.join(message.split())}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
