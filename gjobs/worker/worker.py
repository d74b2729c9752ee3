"""The worker: what one process runs, once, for all the queues it serves.

A :class:`Worker` owns the worker id, the pool of job greenlets (``parent``), the shared
:class:`~gjobs.slots.Slots` (one concurrency limit over all queues, by strict priority or by
weight), one heartbeat thread that beats and recovers for every queue, one promoter of delayed
jobs with one pub/sub connection, start, stop (drain, hurry) and the status line. It composes
one :class:`~gjobs.worker.consumer.Consumer` per queue, which fetches, runs and settles that
queue's jobs.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any, Callable, Dict, List, Optional, Sequence, cast

import gevent
import gevent.event
from gevent import monkey

from .. import clock
from ..access import check_channels
from ..adapter import adapter_for
from ..coder import DEFAULT
from ..connection import check_version, eviction_warning
from ..middleware import Chain, Middleware, installed
from ..runners import Runners
from ..schedule import Schedule
from ..schedule import schedules as declared
from ..slots import Slots
from .consumer import Consumer
from .heartbeat import Heartbeat
from .liveness import start_heartbeat
from .options import DEFAULT_RESOLUTION, Options
from .promoter import Promoter
from .runner import drain
from .scheduler import Scheduler

logger = logging.getLogger("gjobs")


def delegate_call(delegate: Any) -> Callable[[Any], Any]:
    """``delegate.call``, or ``delegate`` itself when it is a plain callable."""
    call = getattr(delegate, "call", None)
    if callable(call):
        return cast(Callable[[Any], Any], call)
    if callable(delegate):
        return cast(Callable[[Any], Any], delegate)
    raise TypeError("delegate must have a call(job) method or be callable")


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    """Runs the jobs of ``queues`` (prefixes, highest priority first) with ``delegate``.

    ``concurrency`` bounds the jobs running at once over all queues (and the jobs taken from
    Redis and not yet finished). Priority is strict unless ``weights`` (one positive number per
    queue) is given: then a freed slot goes to a waiting queue at random, in proportion to its
    weight. The other options are those of :class:`gjobs.Server`; ``parent`` is shared by all
    queues (by default ``concurrency`` reusable greenlets). Give at least one slot per queue: an
    idle queue waits for its next job holding one (see README "Many queues in one worker").
    """

    def __init__(
        self, delegate: Any, client: Any, queues: Sequence[str], coder: Any = DEFAULT,
        resolution: float = DEFAULT_RESOLUTION, parent: Any = None, *, weights: Optional[Sequence[float]] = None,
        worker_id: Optional[str] = None, schedules: Optional[Sequence[Schedule]] = None,
        middleware: Optional[Sequence[Middleware]] = None, **options: Any,
    ) -> None:
        call = delegate_call(delegate)
        queues = list(queues)
        if not queues or len(set(queues)) != len(queues):
            raise ValueError(f"queues must be distinct names, at least one: {queues!r}")
        if weights is not None and len(weights) != len(queues):
            raise ValueError(f"give one weight per queue: {len(queues)} queues, {len(weights)} weights")
        self.options = opts = Options(resolution=resolution, **options)
        concurrency = opts.concurrency
        # A bounded parent smaller than the limit lowers it: taking more jobs than can start
        # would hold them in a pending list while another worker could run them.
        size = getattr(parent, "size", None)
        if isinstance(size, int) and 0 < size < concurrency:
            concurrency = size
        if concurrency < len(queues):
            logger.warning(
                "concurrency %d is below the number of queues (%d): idle queues take turns to wait "
                "for jobs, and a job may wait a block timeout per other queue before it starts",
                concurrency, len(queues),
            )
        self.delegate = delegate
        self.client = client
        self.coder = coder
        self.id = worker_id or new_worker_id()
        self.slots = Slots(concurrency, weights)
        self._own_parent = parent is None  # our runners are ours to end at stop
        self.parent = parent if parent is not None else Runners(concurrency)
        self.adapter = adapter_for(client)
        # One connection for the settle calls of every queue: each is short, and rarely at once.
        self._settle_lane = self.adapter.lane(client)
        self._ended = gevent.event.Event()
        self._hurry = gevent.event.Event()
        self.consumers: List[Consumer] = [
            Consumer(
                name, rank, client=client, coder=coder, call=call, parent=self.parent, slots=self.slots,
                options=opts, worker_id=self.id, adapter=self.adapter, settle_lane=self._settle_lane,
                ended=self._ended, info=self.info, policy_for=getattr(delegate, "policy_for", None),
            )
            for rank, name in enumerate(queues)
        ]
        self.promoter = Promoter(
            client, [c.queue.delayed_jobs for c in self.consumers], opts.resolution, self.id,
            cancels={c.keys.cancel: c.runner.cancel for c in self.consumers},
        )
        known = declared.all() if schedules is None else list(schedules)  # fired by the scheduler
        self.scheduler = Scheduler(client, coder, known, queues[0], self.id) if known else None
        self.middleware = middleware  # around each job; None: those installed when it starts
        self._timed = [self.promoter.loop] + ([self.scheduler.loop] if self.scheduler is not None else [])
        self.started_at: Optional[float] = None
        self._started: List[Consumer] = []
        self._heartbeat: Optional[Heartbeat] = None
        self._stopping = False
        self._stopped = gevent.event.Event()
        self._handed_back = True

    # -- what it is ------------------------------------------------------------------------------

    @property
    def queues(self) -> List[str]:
        return [consumer.keys.prefix for consumer in self.consumers]

    @property
    def concurrency(self) -> int:
        """Jobs run at once over all queues."""
        return self.slots.total

    @property
    def shutdown_timeout(self) -> float:
        return self.options.shutdown_timeout

    @property
    def running(self) -> bool:
        return self.started_at is not None

    @property
    def in_progress(self) -> int:
        """Jobs running here now, over all queues."""
        return sum(consumer.in_progress for consumer in self.consumers)

    def consumer(self, queue: str) -> Consumer:
        for consumer in self.consumers:
            if consumer.keys.prefix == queue:
                return consumer
        raise KeyError(f"no queue {queue!r} here; queues: {self.queues}")

    def call(self, job: Dict[str, Any], queue: Optional[str] = None) -> str:
        """Enqueue ``job`` on ``queue`` (the highest-priority one by default) and return its id."""
        return (self.consumer(queue) if queue else self.consumers[0]).queue.enqueue(job)

    def info(self) -> Dict[str, Any]:
        """What this worker publishes about itself with every heartbeat (each queue adds its
        jobs in flight)."""
        return {"host": socket.gethostname(), "pid": os.getpid(), "started_at": self.started_at,
                "concurrency": self.concurrency}

    # -- start and stop --------------------------------------------------------------------------

    def start(self) -> bool:
        """Register on every queue and start processing. Returns False if already started.

        Raises :class:`~gjobs.connection.RedisVersionError` for a Redis older than 6.2; when a
        queue cannot start, those already started are stopped and the error is raised.
        """
        if self.running:
            return False
        if not monkey.is_module_patched("socket"):
            logger.warning(
                "gevent has not patched socket: Redis calls will block every greenlet; "
                "call gevent.monkey.patch_all() first (gjobs-worker does)"
            )
        check_version(self.client, f"{self.consumers[0].keys.tag}:probe")
        warning = eviction_warning(self.client)
        if warning:
            logger.warning("%s", warning)
        check_channels(self.client, [c.keys.wakeup for c in self.consumers], self.options.block_timeout)
        self._hurry.clear()
        self._stopped.clear()
        chain = Chain(installed if self.middleware is None else self.middleware)
        for consumer in self.consumers:
            consumer.runner.chain = chain if chain.middleware else None
        self.started_at = clock.now()
        try:
            for consumer in self.consumers:
                consumer.start()
                self._started.append(consumer)
        except BaseException:
            try:
                self._shut_down(0)
            except Exception as error:
                logger.warning("worker %s: could not stop the queues already started (%s: %s)",
                               self.id, type(error).__name__, error)
            raise
        for loop in self._timed:
            loop.start()
        self._heartbeat = start_heartbeat(
            self.adapter, self.client, [(c.liveness, c.keys) for c in self.consumers], self.options.heartbeat_interval
        )
        logger.info(
            "worker %s started on %s %s (concurrency %d, heartbeat every %.3g s%s)",
            self.id, "queue" if len(self.consumers) == 1 else "queues", ", ".join(map(repr, self.queues)),
            self.concurrency, self.options.heartbeat_interval,
            f", {self.scheduler.count} schedules" if self.scheduler is not None else "",
        )
        return True

    def stop(self, timeout: Optional[float] = None) -> bool:
        """Stop fetching at once on every queue, let in-flight jobs finish, and leave nothing
        behind in Redis.

        Jobs still running after ``timeout`` seconds (``shutdown_timeout`` by default), or at
        once after :meth:`hurry`, are killed. Their ids, and any fetched but not started, go back
        to the front of their ready list; the worker leaves the registries. Calling it on a
        stopped worker does nothing.

        Returns True when every outcome was reported and every unfinished job handed back;
        False when Redis could not be reached for some (logged in one line each): those jobs
        return to their queue when this worker's heartbeat expires (two intervals after its
        last beat), and finished ones may run again.
        """
        if not self.running:
            return True
        if self._stopping:
            self._stopped.wait()  # another greenlet is stopping this worker: wait for it to finish
            return self._handed_back
        self._stopping = True
        try:
            self._handed_back = self._shut_down(self.shutdown_timeout if timeout is None else timeout)
        finally:
            self._stopping = False
            self._stopped.set()
        return self._handed_back

    def _shut_down(self, timeout: float) -> bool:
        started, self._started = self._started, []
        gevent.joinall([gevent.spawn(consumer.stop_fetching) for consumer in started], raise_error=True)
        self._drain(timeout)
        for loop in self._timed:
            loop.stop()
        handed_back = all([consumer.stop_settling() for consumer in started])
        if self._heartbeat is not None:
            self._heartbeat.stop()
            self._heartbeat = None
        for consumer in started:
            try:
                released = consumer.release()
            except Exception as error:
                handed_back = False
                logger.warning(
                    "worker %s could not put its jobs back on %r (%s: %s); they return to the queue when its "
                    "heartbeat expires, %g s after its last beat",
                    self.id, consumer.keys.prefix, type(error).__name__, error, 2 * self.options.heartbeat_interval,
                )
            else:
                if released:
                    logger.info("worker %s put %d unfinished jobs back at the front of %r",
                                self.id, released, consumer.keys.prefix)
        self._settle_lane.close()
        self.started_at = None
        logger.info("worker %s stopped", self.id)
        return handed_back

    def hurry(self) -> None:
        """Make a :meth:`stop` under way stop waiting for in-flight jobs (a second SIGTERM)."""
        self._hurry.set()

    def _drain(self, timeout: float) -> None:
        killed = drain([consumer.runner for consumer in self.consumers], self._ended, self._hurry, timeout)
        if killed:
            logger.warning("worker %s: killed %d jobs still running at shutdown", self.id, killed)
        if self._own_parent:
            self.parent.kill()  # the idle runners: nothing else would end them

    def __enter__(self) -> "Worker":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- status ----------------------------------------------------------------------------------

    def idle(self) -> bool:
        """Nothing ready, due, running or unreported on any queue (what burst mode waits for)."""
        return all(consumer.idle() for consumer in self.consumers)

    def status_string(self) -> str:
        """``R=<ready> D=<delayed> P=<in progress>/<completed>`` (see :func:`gjobs.format_status`);
        with several queues one per queue, ``queue: R=.. D=.. P=../..``, joined by ``; ``."""
        if len(self.consumers) == 1:
            return self.consumers[0].status_string()
        return "; ".join(f"{c.keys.prefix}: {c.status_string()}" for c in self.consumers)
