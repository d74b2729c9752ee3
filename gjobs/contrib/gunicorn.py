"""Run a gjobs server inside each gunicorn gevent worker: no separate worker process needed.

In ``gunicorn.conf.py``::

    from gjobs.contrib.gunicorn import post_worker_init, worker_exit

    worker_class = "gevent"

Each worker then starts a :class:`~gjobs.Server` on the Redis at ``$REDIS_URL`` (read when the
worker starts) that runs task jobs (:class:`~gjobs.TaskRunner`) beside the requests it serves.
For other settings, build the hooks::

    from gjobs.contrib.gunicorn import hooks

    post_worker_init, worker_exit = hooks(prefix="mail", imports=["app.tasks"], concurrency=10)

The server starts in ``post_worker_init`` (after the application is loaded, so its tasks are
registered) and retries in the background while Redis cannot be reached, so the web application
boots even then. When gunicorn stops a worker, the server stops fetching at once and its running
jobs get ``shutdown_timeout`` seconds (default: gunicorn's ``graceful_timeout`` minus 2) to finish
while the requests drain; ``worker_exit`` waits for that, and jobs still running are put back at
the front of the queue for another worker.

This module is imported by gunicorn's master process, which must not load redis-py or gevent's
patched modules: everything heavy is imported inside the hooks, which run in the workers.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Iterable, List, Optional, Tuple

logger = logging.getLogger("gjobs")

#: Seconds between checks of whether gunicorn is stopping the worker.
ALIVE_CHECK_INTERVAL = 0.2
#: Seconds of ``graceful_timeout`` kept for putting unfinished jobs back before gunicorn kills.
GRACE_MARGIN = 2.0
#: Seconds between attempts to start the server while Redis cannot be reached: first and cap.
START_RETRY_FIRST = 0.5
START_RETRY_CAP = 30.0


class Hooks:
    """The two gunicorn hooks of one gjobs configuration, and the server of this worker.

    ``url`` is the Redis (default: ``$REDIS_URL`` when the worker starts, else
    ``redis://localhost:6379/0``); ``delegate`` an object with ``call(job)``, a callable, or
    ``"MODULE:ATTR"`` (default: a :class:`~gjobs.TaskRunner`); ``imports`` are modules to import
    first (task modules the application does not import itself); ``shutdown_timeout`` seconds
    for running jobs at stop; further keyword arguments go to :class:`~gjobs.Server`.
    """

    def __init__(
        self,
        url: Optional[str] = None,
        prefix: str = "gjobs",
        delegate: Any = None,
        imports: Iterable[str] = (),
        shutdown_timeout: Optional[float] = None,
        **server_options: Any,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.delegate = delegate
        self.imports = list(imports)
        self.shutdown_timeout = shutdown_timeout
        self.server_options = server_options
        #: The server of this worker process, once ``post_worker_init`` has run.
        self.server: Any = None
        self._greenlets: List[Any] = []
        self._stopping: Any = None
        self._waiting_to_retry = False

    def post_worker_init(self, worker: Any) -> None:
        """gunicorn hook: build this worker's server and start it in the background."""
        from gevent import monkey

        if not monkey.is_module_patched("socket"):
            logger.error("gjobs needs gunicorn's gevent workers (worker_class = 'gevent'); not starting a server")
            return
        import gevent

        import gjobs
        from gjobs.cli.common import load_delegate, redis_url
        from gjobs.connection import connect, redact
        from gjobs.tasks import default_queue, set_default_queue

        _share_gunicorn_logging(worker)
        for module in self.imports:
            importlib.import_module(module)
        delegate = self.delegate
        if delegate is None:
            delegate = gjobs.TaskRunner()
        elif isinstance(delegate, str):
            delegate = load_delegate(delegate)
        url = redis_url(self.url)
        timeout = self.shutdown_timeout
        if timeout is None:
            timeout = max(0.0, float(worker.cfg.graceful_timeout) - GRACE_MARGIN)
        self.server = server = gjobs.Server(
            delegate, connect(url), prefix=self.prefix, shutdown_timeout=timeout, **self.server_options
        )
        if default_queue() is None:
            set_default_queue(server.queue)  # so that this application's tasks' delay() has a queue
        logger.info("gjobs: gunicorn worker %s runs queue %r on %s", worker.pid, self.prefix, redact(url))
        self._greenlets = [gevent.spawn(self._start, worker), gevent.spawn(self._watch, worker)]

    def worker_exit(self, arbiter: Any, worker: Any) -> None:
        """gunicorn hook: stop this worker's server, letting running jobs finish first."""
        if self.server is None:
            return  # the master process, or a worker that never started one
        import gevent

        self._begin_stop()
        self._stopping.join()
        gevent.killall(self._greenlets)
        self.server = None

    def _start(self, worker: Any) -> None:
        import gevent

        wait = START_RETRY_FIRST
        while worker.alive and self._stopping is None:
            try:
                self.server.start()
                return
            except Exception as error:
                logger.warning("gjobs server could not start: %s: %s; retrying in %.1f s",
                               type(error).__name__, error, wait)
            self._waiting_to_retry = True
            try:
                gevent.sleep(wait)
            finally:
                self._waiting_to_retry = False
            wait = min(START_RETRY_CAP, wait * 2)

    def _watch(self, worker: Any) -> None:
        import gevent

        while worker.alive:
            gevent.sleep(ALIVE_CHECK_INTERVAL)
        self._begin_stop()

    def _begin_stop(self) -> None:
        import gevent

        if self._stopping is None:
            # Stopping in a greenlet of its own lets running jobs finish while requests drain.
            self._stopping = gevent.spawn(self._stop)

    def _stop(self) -> None:
        starter = self._greenlets[0] if self._greenlets else None
        if starter is not None:
            if self._waiting_to_retry:
                starter.kill()
            else:
                starter.join()  # a start under way: a killed one could leave half a server
        self.server.stop()


def hooks(**options: Any) -> Tuple[Any, Any]:
    """``(post_worker_init, worker_exit)`` for a ``gunicorn.conf.py``; options as :class:`Hooks`."""
    made = Hooks(**options)
    return made.post_worker_init, made.worker_exit


#: The hooks with the defaults: queue ``gjobs`` on ``$REDIS_URL``, tasks run by a TaskRunner.
default_hooks = Hooks()
post_worker_init = default_hooks.post_worker_init
worker_exit = default_hooks.worker_exit


def _share_gunicorn_logging(worker: Any) -> None:
    """Send gjobs' log to gunicorn's error log when the application set up no logging itself."""
    gjobs_logger = logging.getLogger("gjobs")
    error_log = getattr(getattr(worker, "log", None), "error_log", None)
    if error_log is None or gjobs_logger.handlers or logging.getLogger().handlers:
        return
    for handler in error_log.handlers:
        gjobs_logger.addHandler(handler)
    gjobs_logger.setLevel(error_log.level)

