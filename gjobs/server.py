"""The server: the origin's one-queue API, a thin face over a one-queue :class:`~gjobs.worker.Worker`.

A started server runs a queue's jobs in greenlets: a fetch loop takes ready jobs for free slots,
each job runs in a greenlet of ``parent``, a settle loop reports outcomes in batches, a promoter
moves due delayed jobs, and a heartbeat thread keeps the worker registered and recovers the
jobs of dead workers (see :mod:`gjobs.worker` for each part).
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from .coder import DEFAULT
from .keys import Keys
from .processing_list import ProcessingList
from .queue import Queue
from .slots import Slots
from .worker import Worker
from .worker.options import (
    DEFAULT_BLOCK_TIMEOUT,
    DEFAULT_CONCURRENCY,
    DEFAULT_FETCH_BATCH,
    DEFAULT_HEARTBEAT_INTERVAL,
    DEFAULT_RESOLUTION,
    DEFAULT_SHUTDOWN_TIMEOUT,
    MAX_FETCH_BATCH,
    Options,
)
from .worker.runner import JobTimeout

__all__ = [
    "DEFAULT_BLOCK_TIMEOUT", "DEFAULT_CONCURRENCY", "DEFAULT_FETCH_BATCH", "DEFAULT_HEARTBEAT_INTERVAL",
    "DEFAULT_RESOLUTION", "DEFAULT_SHUTDOWN_TIMEOUT", "MAX_FETCH_BATCH", "JobTimeout", "Server",
]


class Server:
    """Runs the jobs of one queue with ``delegate``.

    ``delegate`` is an object with ``call(job)``, or a plain callable; it runs in a greenlet.
    ``client`` is a redis-py client; ``prefix`` names the queue; ``coder`` encodes jobs (JSON by
    default); ``resolution`` is the longest the promoter sleeps, in seconds; ``parent`` is where
    job greenlets are spawned (anything with ``spawn``; by default :class:`~gjobs.runners.Runners`,
    ``concurrency`` greenlets reused from job to job, far cheaper than a greenlet per job; a
    bounded pool smaller than ``concurrency`` lowers it to the pool's size).

    Options (keyword only):

    ``concurrency`` (25)
        jobs run at once; the fetch loop takes a job only when one of these slots is free.
    ``heartbeat_interval`` (5 s)
        between heartbeats; a worker whose last beat is older than twice this is dead, and its
        jobs are requeued by the others.
    ``max_attempts`` (25; None = forever)
        runs (crashes included) before a failing job goes to the dead set.
    ``backoff`` (exponential with jitter)
        ``callable(attempt) -> seconds`` to wait before retrying a failed attempt.
    ``timeout`` (None)
        default time limit of a job in seconds; a job's own ``"timeout"`` key overrides it.
    ``shutdown_timeout`` (25 s)
        how long :meth:`stop` lets in-flight jobs finish before putting them back.
    ``block_timeout`` (1 s)
        how long one blocking fetch waits; must be below the client's ``socket_timeout``.
    ``fetch_batch`` (half the concurrency, at most 100)
        jobs taken per fetch call at most; by default one half of the slots runs while the
        other is fetched.
    ``dead_max`` (10,000) and ``dead_max_age`` (180 days, in seconds)
        how many dead jobs are kept, and how long; None for no bound.
    ``worker_id``
        this worker's name in the registry; ``host-pid-random`` by default.
    """

    def __init__(
        self,
        delegate: Any,
        client: Any,
        prefix: str = "gjobs",
        coder: Any = DEFAULT,
        resolution: float = DEFAULT_RESOLUTION,
        parent: Any = None,
        *,
        worker_id: Optional[str] = None,
        **options: Any,
    ) -> None:
        self.worker = Worker(delegate, client, [prefix], coder, resolution, parent, worker_id=worker_id, **options)
        self._consumer = self.worker.consumers[0]

    # -- what it is (read-only views of the worker) --------------------------------------------

    @property
    def id(self) -> str:
        return self.worker.id

    @property
    def client(self) -> Any:
        return self.worker.client

    @property
    def coder(self) -> Any:
        return self.worker.coder

    @property
    def options(self) -> Options:
        return self.worker.options

    @property
    def resolution(self) -> float:
        return self.options.resolution

    @property
    def heartbeat_interval(self) -> float:
        return self.options.heartbeat_interval

    @property
    def shutdown_timeout(self) -> float:
        return self.options.shutdown_timeout

    @property
    def concurrency(self) -> int:
        return self.worker.concurrency

    @property
    def parent(self) -> Any:
        return self.worker.parent

    @property
    def slots(self) -> Slots:
        return self.worker.slots

    @property
    def queue(self) -> Queue:
        return self._consumer.queue

    @property
    def keys(self) -> Keys:
        return self._consumer.keys

    @property
    def processing_list(self) -> ProcessingList:
        return self._consumer.processing_list

    @property
    def running(self) -> bool:
        return self.worker.running

    @property
    def in_progress(self) -> int:
        """Jobs running in this server now."""
        return self.worker.in_progress

    # -- producing and running -----------------------------------------------------------------

    def call(self, job: Dict[str, Any]) -> str:
        """Enqueue ``job`` (delayed when it has ``scheduled_at``) and return its id."""
        return self.queue.enqueue(job)

    def start(self) -> bool:
        """Register this worker and start processing. Returns False if already started.

        Raises :class:`~gjobs.connection.RedisVersionError` for a Redis older than 6.2.
        """
        return self.worker.start()

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stop fetching at once, let in-flight jobs finish, and leave nothing behind in Redis
        (see :meth:`gjobs.worker.Worker.stop`, which says what it returns)."""
        return self.worker.stop(timeout)

    def hurry(self) -> None:
        """Make a :meth:`stop` under way stop waiting for in-flight jobs (a second SIGTERM)."""
        self.worker.hurry()

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- heartbeat and recovery ----------------------------------------------------------------

    def beat(self, now: Optional[float] = None) -> None:
        """Record a heartbeat now (or at ``now``)."""
        self._consumer.liveness.beat(self._consumer.registry, now)

    def recover(self, now: Optional[float] = None) -> int:
        """Requeue the jobs of every worker whose last beat is older than two intervals at ``now``;
        returns how many jobs were requeued or buried. Safe to run from many workers at once."""
        return self._consumer.liveness.recover(self._consumer.registry, now)

    def info(self) -> Dict[str, Any]:
        """What this worker publishes about itself with every heartbeat."""
        return self._consumer.info()

    def status_string(self) -> str:
        """``R=<ready> D=<delayed> P=<in progress>/<completed>``, e.g. ``R=3.42K D=1.23K P=7/2.34K``.

        Ready, delayed and completed are the whole queue's; in progress is this server's.
        """
        return self.worker.status_string()
