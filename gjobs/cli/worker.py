"""``gjobs-worker``: run the jobs of one queue, or of several by priority, with a delegate loaded
by import path.

gevent patches the standard library first, before redis-py, ssl or the user's code are
imported: everything the delegate does then yields to other jobs while it waits on I/O.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import importlib  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from typing import Any, List, Optional, Union  # noqa: E402

import gevent  # noqa: E402

import gjobs  # noqa: E402
from gjobs import clock  # noqa: E402
from gjobs.cli.types import (  # noqa: E402
    attempts,
    non_negative_float,
    positive_float,
    positive_int,
    queue_name,
    weights,
)
from gjobs.connection import DEFAULT_URL, connect, redact  # noqa: E402
from gjobs.multi_server import MultiServer  # noqa: E402
from gjobs.retries import DEFAULT_MAX_ATTEMPTS  # noqa: E402
from gjobs.server import (  # noqa: E402
    DEFAULT_CONCURRENCY,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_SHUTDOWN_TIMEOUT,
    Server,
)

logger = logging.getLogger("gjobs")

#: Seconds between status lines in the log.
DEFAULT_STATUS_INTERVAL = 5.0


class UsageError(Exception):
    """Bad input at the command line: reported in one line, exit status 2."""


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
    parser.add_argument("--resolution", type=positive_float, default=10.0,
                        help="longest sleep of the delayed-job promoter, seconds (default: 10)")
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


def load_delegate(path: str) -> Any:
    """The object named by ``MODULE:ATTR``; a class is instantiated without arguments."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise UsageError(f"delegate must look like MODULE:ATTR, not {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"cannot import {module_name!r}: {error}") from None
    try:
        target = module
        for part in attr.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise UsageError(f"{module_name!r} has no attribute {attr!r}") from None
    if isinstance(target, type):
        target = target()
    if not callable(getattr(target, "call", None)) and not callable(target):
        raise UsageError(f"{path} is neither callable nor has a call(job) method")
    return target


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


def build_server(args: argparse.Namespace, delegate: Any, client: Any) -> Union[Server, MultiServer]:
    """A ``Server`` for one queue (``--prefix``, or a single ``--queue``), else a ``MultiServer``."""
    queues = queue_names(args)
    if len(queues) == 1 and not args.weights:
        return Server(delegate, client, prefix=queues[0], **server_options(args))
    return MultiServer(delegate, client, queues, weights=args.weights, **server_options(args))


def run(server: Union[Server, MultiServer], status_interval: float, burst: bool = False) -> None:
    """Run ``server`` until SIGINT/SIGTERM (a second one skips the wait for running jobs), or, in
    burst mode, until nothing is ready, due or running on any of its queues."""
    stopping: List[gevent.Greenlet] = []

    def on_signal(signum: int) -> None:
        if stopping:
            logger.warning("second %s: putting running jobs back without waiting", signal.Signals(signum).name)
            server.hurry()
            return
        logger.info("%s: stopping (running jobs get %g s)", signal.Signals(signum).name, server.shutdown_timeout)
        stopping.append(gevent.spawn(server.stop))

    handlers = [gevent.signal_handler(sig, on_signal, sig) for sig in (signal.SIGINT, signal.SIGTERM)]
    try:
        server.start()
        status = gevent.spawn(_log_status, server, status_interval)
        try:
            while server.running and not stopping:
                if burst and _idle(server):
                    logger.info("burst: nothing left to run")
                    stopping.append(gevent.spawn(server.stop))
                    break
                gevent.sleep(0.1 if burst else 0.5)
            if stopping:
                stopping[0].join()
            logger.info("status %s", server.status_string())
        finally:
            status.kill()
    finally:
        for handler in handlers:
            handler.cancel()
        server.stop()


def _idle(server: Union[Server, MultiServer]) -> bool:
    if server.in_progress:
        return False
    return all(_queue_idle(one) for one in getattr(server, "servers", [server]))


def _queue_idle(server: Server) -> bool:
    next_due = server.queue.delayed_jobs.next_due()
    due_now = next_due is not None and next_due <= clock.now()
    # An id taken by a blocking fetch sits in the pending list before it is in flight here; an
    # empty pending list also means every finished job has been reported.
    return not due_now and server.queue.ready_list.size() == 0 and server.processing_list.size() == 0


def _log_status(server: Union[Server, MultiServer], interval: float) -> None:
    while True:
        gevent.sleep(interval)
        try:
            logger.info("status %s", server.status_string())
        except Exception as error:
            logger.warning("status unavailable: %s: %s", type(error).__name__, error)


def _describe(server: Union[Server, MultiServer]) -> str:
    if isinstance(server, Server):
        return f"queue {server.keys.prefix!r}"
    if server.slots.weights is None:
        return f"queues {', '.join(server.queues)} (strict priority, in this order)"
    shares = ", ".join(f"{name}={weight:g}" for name, weight in zip(server.queues, server.slots.weights))
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
        url = args.redis_url or os.environ.get("REDIS_URL") or DEFAULT_URL
        queue_names(args)  # bad input is reported before connecting
        try:
            server = build_server(args, delegate, connect(url))
        except ValueError as error:
            raise UsageError(str(error)) from None
        logger.info("gjobs %s: %s on %s", gjobs.__version__, _describe(server), redact(url))
        run(server, args.status_interval, args.burst)
        return 0
    except UsageError as error:
        print(f"gjobs-worker: error: {error}", file=sys.stderr)
        return 2
    except Exception as error:
        if type(error).__module__.startswith("redis") or isinstance(error, (OSError, gjobs.RedisVersionError)):
            print(f"gjobs-worker: error: {type(error).__name__}: {redact(str(error))}", file=sys.stderr)
            return 1
        raise
