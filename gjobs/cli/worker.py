"""``gjobs-worker``: run the jobs of one queue, or of several by priority, with a delegate loaded
by import path.

The console script enters through :mod:`gjobs.__main__`, which has gevent patch the standard
library before this module, redis-py, ssl or the user's code are imported: everything the
delegate does then yields to other jobs while it waits on I/O. Importing this module patches
nothing.
"""

import argparse
import gc
import importlib
import logging
import os
import signal
import sys
from typing import Any, Dict, List, Optional, Set, Tuple, cast

import gevent
import gevent.event

import gjobs
from gjobs.cli.common import UsageError, is_redis_trouble, is_unreachable, load_delegate, redis_url
from gjobs.cli.types import (
    attempts,
    non_negative_float,
    positive_float,
    positive_int,
    queue_name,
    weights,
)
from gjobs.connection import DEFAULT_URL, connect, redact
from gjobs.retries import DEFAULT_MAX_ATTEMPTS
from gjobs.worker import Worker
from gjobs.worker.options import (
    DEFAULT_CONCURRENCY,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_RESOLUTION,
    DEFAULT_SHUTDOWN_TIMEOUT,
)

logger = logging.getLogger("gjobs")

#: Seconds between status lines in the log.
DEFAULT_STATUS_INTERVAL = 5.0
#: Seconds the worker waits before trying again when Redis cannot be reached at start (not up
#: yet, as a container started beside its Redis); the wait doubles after every failed try...
CONNECT_RETRY_FIRST = 0.5
#: ... up to this many seconds.
CONNECT_RETRY_MAX = 10.0
#: Seconds a try to start, under way when SIGINT or SIGTERM comes, gets to give up (a connect to
#: a host that never answers can take minutes).
START_ABANDON_TIMEOUT = 2.0
#: Seconds between two looks at whether the worker still runs (a signal ends the wait at once),
#: and, in burst mode, at whether anything is left to run.
RUN_POLL_INTERVAL = 0.5
BURST_POLL_INTERVAL = 0.1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gjobs-worker",
        description="Run the jobs of a gjobs queue. DELEGATE is MODULE:ATTR, an object with "
        "call(job), a callable, or a class to instantiate without arguments.",
        epilog="Exit status: 0 when the worker stopped and handed back every job it held (or had not "
        "started yet); 1 when Redis refused, or could not be reached: at start with "
        "--exit-on-connect-failure, or at the stop, when the jobs it held return to their queue only once "
        "its heartbeat expires (two heartbeat intervals); 2 for bad input.",
    )
    parser.add_argument("delegate", nargs="?",
                        help="MODULE:ATTR of the delegate that runs each job (default with --import: "
                        "gjobs:TaskRunner, which runs the tasks the imported modules registered)")
    parser.add_argument("--demo", action="store_true",
                        help="run sample jobs through a private Redis (no server needed) and exit")
    parser.add_argument("--redis-url", default=None,
                        help=f"Redis to use (default: $REDIS_URL, else {DEFAULT_URL})")
    parser.add_argument("--prefix", default="gjobs", help="queue name (default: gjobs)")
    parser.add_argument("--queue", dest="queues", action="append", type=queue_name, metavar="NAME",
                        help="a queue to run, instead of --prefix; repeat it to run several with one "
                        "--concurrency limit, in strict priority in the order given")
    parser.add_argument("--weights", type=weights, metavar="W1,W2,...",
                        help="with several --queue: share the slots at random in proportion to these "
                        "weights, one per queue (e.g. 5,3,1), instead of strict priority")
    parser.add_argument("--concurrency", type=positive_int, default=DEFAULT_CONCURRENCY,
                        help=f"jobs run at once (default: {DEFAULT_CONCURRENCY})")
    parser.add_argument("--resolution", type=positive_float, default=DEFAULT_RESOLUTION,
                        help=f"longest sleep of the delayed-job promoter, seconds (default: {DEFAULT_RESOLUTION:g})")
    parser.add_argument("--heartbeat-interval", type=positive_float, default=DEFAULT_HEARTBEAT_INTERVAL,
                        help=f"seconds between heartbeats (default: {DEFAULT_HEARTBEAT_INTERVAL:g})")
    parser.add_argument("--max-attempts", type=attempts, default=DEFAULT_MAX_ATTEMPTS,
                        help="runs before a failing job goes to the dead set; 'unlimited' for no limit "
                        "(default: 25)")
    parser.add_argument("--timeout", type=positive_float, default=None,
                        help="default time limit of one job, seconds (default: none)")
    parser.add_argument("--shutdown-timeout", type=non_negative_float, default=DEFAULT_SHUTDOWN_TIMEOUT,
                        help="seconds running jobs get to finish on SIGTERM (default: 25)")
    parser.add_argument("--status-interval", type=positive_float, default=DEFAULT_STATUS_INTERVAL,
                        help="seconds between status lines (default: 5)")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE",
                        help="import MODULE first (repeatable), e.g. to register tasks")
    parser.add_argument("--burst", action="store_true",
                        help="run what is ready (and due) now, then exit; implies --exit-on-connect-failure, "
                        "so that runs from cron do not pile up while Redis is down")
    parser.add_argument("--exit-on-connect-failure", action="store_true",
                        help="exit with status 1 at once when Redis cannot be reached at start, instead "
                        f"of trying again every {CONNECT_RETRY_FIRST:g}-{CONNECT_RETRY_MAX:g} s until it can")
    parser.add_argument("--log-jobs", action="store_true",
                        help="log one line per job that succeeded (failures are always logged)")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], type=str.upper)
    parser.add_argument("--version", action="version", version=f"gjobs {gjobs.__version__}")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def server_options(args: argparse.Namespace) -> Dict[str, Any]:
    return dict(
        resolution=args.resolution,
        concurrency=args.concurrency,
        heartbeat_interval=args.heartbeat_interval,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        shutdown_timeout=args.shutdown_timeout,
        log_jobs=args.log_jobs,
    )


def queue_names(args: argparse.Namespace) -> List[str]:
    """The queues to run, highest priority first: ``--queue`` options, else ``--prefix``."""
    if not args.queues:
        if args.weights:
            raise UsageError("--weights goes with several --queue")
        return [args.prefix]
    if args.prefix != "gjobs":
        raise UsageError("use --queue (repeatable) or --prefix to name the queues, not both")
    return cast(List[str], args.queues)


def build_worker(args: argparse.Namespace, delegate: Any, client: Any) -> Worker:
    """The worker for the queues named (``--prefix``, or ``--queue`` options)."""
    return Worker(delegate, client, queue_names(args), weights=args.weights, **server_options(args))


def run(worker: Worker, status_interval: float, burst: bool = False, *, url: str = "",
        retry_connect: bool = True) -> bool:
    """Run ``worker`` until SIGINT/SIGTERM (a second one skips the wait for running jobs), or, in
    burst mode, until nothing is ready, due or running on any of its queues.

    While Redis at ``url`` cannot be reached at start, it tries again, logging each failure in
    one line, after :data:`CONNECT_RETRY_FIRST` seconds doubling up to :data:`CONNECT_RETRY_MAX`;
    with ``retry_connect`` false it raises the error instead. A signal ends the wait.

    Returns True when the worker stopped and left nothing behind in Redis (or never started),
    False when Redis could not be reached to hand back its jobs: they return to their queue
    when its heartbeat expires.
    """
    asked = gevent.event.Event()  # SIGINT or SIGTERM came, or burst mode is done

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if asked.is_set():
            logger.warning("second %s: putting running jobs back without waiting", name)
            worker.hurry()
        elif worker.running:
            logger.info("%s: stopping (running jobs get %g s)", name, worker.shutdown_timeout)
        else:
            logger.info("%s: stopping before the worker started", name)
        asked.set()

    # Before the first try, so that a signal while Redis is awaited ends the wait.
    handlers = [gevent.signal_handler(sig, on_signal, sig) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        if not _start(worker, asked, url, retry_connect):
            return worker.stop()  # a signal came first; this cleans up after a try cut short
        status = gevent.spawn(_log_status, worker, status_interval)
        try:
            while worker.running and not asked.is_set():
                if burst and worker.idle():
                    logger.info("burst: nothing left to run")
                    asked.set()  # a signal from now on is a second one
                    break
                asked.wait(BURST_POLL_INTERVAL if burst else RUN_POLL_INTERVAL)
            return _stop(worker)
        finally:
            status.kill()
    finally:
        for handler in handlers:
            handler.cancel()
        worker.stop()


def _start(worker: Worker, asked: gevent.event.Event, url: str, retry: bool) -> bool:
    """Start ``worker``, trying again while Redis cannot be reached (if ``retry``); False when
    ``asked`` is set first. Errors other than an unreachable Redis are raised at once."""
    wait = CONNECT_RETRY_FIRST
    while not asked.is_set():
        attempt = gevent.spawn(_try_start, worker)
        gevent.wait([attempt, asked], count=1)
        if not attempt.ready():
            attempt.kill(block=True, timeout=START_ABANDON_TIMEOUT)
            return False
        error = attempt.value
        if error is None:
            return True
        if not retry or not is_unreachable(error):
            raise error
        logger.warning("cannot reach Redis at %s: %s; retrying in %g s", redact(url), _one_line(error), wait)
        asked.wait(wait)
        wait = min(wait * 2, CONNECT_RETRY_MAX)
    return False


def _try_start(worker: Worker) -> Optional[Exception]:
    """``worker.start()`` in a greenlet of its own: its error is returned, not raised, so that
    gevent does not print it as the traceback of a failed greenlet."""
    try:
        worker.start()
    except Exception as error:
        return error
    return None


def _stop(worker: Worker) -> bool:
    """Stop ``worker``; the final status line, or one line on the jobs not handed back."""
    held = _held(worker)
    if worker.stop():
        _log_status_line(worker)
        return True
    count = len(held | _held(worker))
    logger.warning(
        "worker %s stopped, but Redis could not be reached to hand back the %d %s it held when the stop began "
        "(running, fetched, or finished and not reported): they return to their queue when its heartbeat "
        "expires, %g s after its last beat, and may run again",
        worker.id, count, "job" if count == 1 else "jobs", 2 * worker.options.heartbeat_interval,
    )
    return False


def _held(worker: Worker) -> Set[Tuple[str, str]]:
    """``(queue, id)`` of the jobs ``worker`` holds: running, or finished and not yet reported."""
    return {(consumer.keys.prefix, job_id) for consumer in worker.consumers for job_id in consumer.known()}


def _log_status(worker: Worker, interval: float) -> None:
    while True:
        gevent.sleep(interval)
        _log_status_line(worker)


def _log_status_line(worker: Worker) -> None:
    try:
        logger.info("status %s", worker.status_string())
    except Exception as error:
        if not is_redis_trouble(error):
            raise
        logger.warning("status unavailable: %s: %s", type(error).__name__, _one_line(error))


def _one_line(error: BaseException) -> str:
    return " ".join(redact(str(error) or type(error).__name__).split())


def _describe(worker: Worker) -> str:
    if len(worker.queues) == 1:
        return f"queue {worker.queues[0]!r}"
    if worker.slots.weights is None:
        return f"queues {', '.join(worker.queues)} (strict priority, in this order)"
    shares = ", ".join(f"{name}={weight:g}" for name, weight in zip(worker.queues, worker.slots.weights))
    return f"queues {shares} (weighted)"


def _import_from_here() -> None:
    """Let ``--import tasks`` and ``tasks:hello`` find modules in the current directory, as
    Celery, RQ, Dramatiq and gunicorn do (a console script's ``sys.path`` lacks it)."""
    here = os.getcwd()
    if here not in sys.path and "" not in sys.path:
        sys.path.insert(0, here)


#: The collector's young-generation threshold in a worker process (Python's default: 700). Jobs
#: start in batches, one fetch's worth (up to 100) at once, and each holds tens of objects
#: across its first I/O: a batch crossed 700 live objects, so every batch set off a collection
#: that found nothing to free (1,700 per 60,000 jobs making one redis-py call, 6 objects freed
#: in all). Above a batch's worth, allocations and frees even out between collections.
YOUNG_THRESHOLD = 10_000


def tune_garbage_collection() -> None:
    """Fit the garbage collector to a worker, before its first job.

    What the process holds by then (modules, the app, the worker) is set aside for good
    (``gc.freeze``, the step Python's documentation describes for pre-forking servers), so
    full collections walk only what jobs made; garbage made before is collected first. And the
    young generation's threshold is raised to :data:`YOUNG_THRESHOLD` (a higher one, or 0,
    which disables collection, is kept). Measured on jobs making one redis-py call: each step
    saved about 4 us of worker CPU a job."""
    gc.collect()
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if 0 < young < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, middle, old)


def main(argv: Optional[List[str]] = None) -> int:
    """Run ``gjobs-worker``; returns the exit status (see the parser's epilog): 0 stopped with
    every job handed back, 1 Redis refused or could not be reached (jobs left for the heartbeat's
    expiry to return), 2 bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
    url = ""
    _import_from_here()
    try:
        for module in args.imports:
            try:
                importlib.import_module(module)
            except ImportError as error:
                raise UsageError(f"cannot import {module!r}: {error}") from None
        if args.demo:
            from gjobs.demo import run_demo

            return run_demo(args)
        if args.delegate:
            delegate = load_delegate(args.delegate)
        elif args.imports:
            delegate = gjobs.TaskRunner()  # runs the tasks the imported modules registered
        else:
            raise UsageError("name a delegate (MODULE:ATTR), or --import the modules of your tasks, or use --demo")
        url = redis_url(args.redis_url)
        queue_names(args)  # bad input is reported before connecting
        try:
            worker = build_worker(args, delegate, connect(url))
        except ValueError as error:
            raise UsageError(str(error)) from None
        logger.info("gjobs %s: %s on %s", gjobs.__version__, _describe(worker), redact(url))
        tune_garbage_collection()
        handed_back = run(worker, args.status_interval, args.burst, url=url,
                          retry_connect=not (args.exit_on_connect_failure or args.burst))
        # 1: jobs were left in Redis for the heartbeat's expiry to return (see run()).
        return 0 if handed_back else 1
    except UsageError as error:
        print(f"gjobs-worker: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if url and is_unreachable(error):
            print(f"gjobs-worker: error: cannot reach Redis at {redact(url)}: {_one_line(error)}", file=sys.stderr)
            return 1
        if is_redis_trouble(error):
            print(f"gjobs-worker: error: {type(error).__name__}: {_one_line(error)}", file=sys.stderr)
            return 1
        raise
