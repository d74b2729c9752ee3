"""``gjobs-worker``: run the jobs of one queue, or of several by priority, with a delegate loaded
by import path.

The console script enters through :mod:`gjobs.__main__`, which has gevent patch the standard
library before this module, redis-py, ssl or the user's code are imported: everything the
delegate does then yields to other jobs while it waits on I/O. Importing this module patches
nothing.
"""

import argparse
import importlib
import logging
import signal
import sys
from typing import Any, List, Optional

import gevent

import gjobs
from gjobs.cli.common import UsageError, is_redis_trouble, load_delegate, redis_url
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gjobs-worker",
        description="Run the jobs of a gjobs queue. DELEGATE is MODULE:ATTR, an object with "
        "call(job), a callable, or a class to instantiate without arguments.",
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
                        help="run what is ready (and due) now, then exit")
    parser.add_argument("--log-level", default="INFO",
                        choices=["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], type=str.upper)
    parser.add_argument("--version", action="version", version=f"gjobs {gjobs.__version__}")
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level), stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def server_options(args: argparse.Namespace) -> dict:
    return dict(
        resolution=args.resolution,
        concurrency=args.concurrency,
        heartbeat_interval=args.heartbeat_interval,
        max_attempts=args.max_attempts,
        timeout=args.timeout,
        shutdown_timeout=args.shutdown_timeout,
    )


def queue_names(args: argparse.Namespace) -> List[str]:
    """The queues to run, highest priority first: ``--queue`` options, else ``--prefix``."""
    if not args.queues:
        if args.weights:
            raise UsageError("--weights goes with several --queue")
        return [args.prefix]
    if args.prefix != "gjobs":
        raise UsageError("use --queue (repeatable) or --prefix to name the queues, not both")
    return args.queues


def build_worker(args: argparse.Namespace, delegate: Any, client: Any) -> Worker:
    """The worker for the queues named (``--prefix``, or ``--queue`` options)."""
    return Worker(delegate, client, queue_names(args), weights=args.weights, **server_options(args))


def run(worker: Worker, status_interval: float, burst: bool = False) -> None:
    """Run ``worker`` until SIGINT/SIGTERM (a second one skips the wait for running jobs), or, in
    burst mode, until nothing is ready, due or running on any of its queues."""
    stopping: List[gevent.Greenlet] = []

    def on_signal(signum: int) -> None:
        if stopping:
            logger.warning("second %s: putting running jobs back without waiting", signal.Signals(signum).name)
            worker.hurry()
            return
        logger.info("%s: stopping (running jobs get %g s)", signal.Signals(signum).name, worker.shutdown_timeout)
        stopping.append(gevent.spawn(worker.stop))

    handlers = [gevent.signal_handler(sig, on_signal, sig) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        worker.start()
        status = gevent.spawn(_log_status, worker, status_interval)
        try:
            while worker.running and not stopping:
                if burst and worker.idle():
                    logger.info("burst: nothing left to run")
                    stopping.append(gevent.spawn(worker.stop))
                    break
                gevent.sleep(0.1 if burst else 0.5)
            if stopping:
                stopping[0].join()
            logger.info("status %s", worker.status_string())
        finally:
            status.kill()
    finally:
        for handler in handlers:
            handler.cancel()
        worker.stop()


def _log_status(worker: Worker, interval: float) -> None:
    while True:
        gevent.sleep(interval)
        try:
            logger.info("status %s", worker.status_string())
        except Exception as error:
            logger.warning("status unavailable: %s: %s", type(error).__name__, error)


def _describe(worker: Worker) -> str:
    if len(worker.queues) == 1:
        return f"queue {worker.queues[0]!r}"
    if worker.slots.weights is None:
        return f"queues {', '.join(worker.queues)} (strict priority, in this order)"
    shares = ", ".join(f"{name}={weight:g}" for name, weight in zip(worker.queues, worker.slots.weights))
    return f"queues {shares} (weighted)"


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level)
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
        run(worker, args.status_interval, args.burst)
        return 0
    except UsageError as error:
        print(f"gjobs-worker: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if is_redis_trouble(error):
            print(f"gjobs-worker: error: {type(error).__name__}: {redact(str(error))}", file=sys.stderr)
            return 1
        raise
