"""The server: runs a queue's jobs in greenlets, composing the structure classes.

A started server owns three greenlets and one native thread:

* the **fetch loop** takes ready jobs into this worker's pending list, only as many as there are
  free slots, and hands each job to a greenlet of ``parent`` (reused greenlets by default);
* the **settle loop** reports finished jobs to Redis in batches (one script call per batch), and
  failed ones as the failure policy decides;
* the **promoter** moves due delayed jobs to the ready list and sleeps until the next one is due
  (or a wake-up is published, or ``resolution`` seconds pass);
* the **heartbeat thread** keeps this worker registered and recovers the jobs of dead workers.

Every loop survives Redis errors: it logs, waits with capped exponential backoff, and goes on.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
import uuid
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import gevent
import gevent.event
import gevent.lock
from gevent import monkey

from . import clock
from .coder import DEFAULT
from .connection import check_version, clone, in_process, socket_timeout
from .dead_set import DEFAULT_MAX_AGE, DEFAULT_MAX_COUNT, DeadSet
from .format import format_status
from .heartbeat import Heartbeat
from .keys import QUEUES, text
from .processing_list import ProcessingList, WorkerRegistry
from .queue import Queue
from .retries import DEFAULT_MAX_ATTEMPTS, Backoff, RetryPolicy, Unretryable, default_backoff, job_max_attempts
from .runners import Runners
from .slots import Slots

logger = logging.getLogger("gjobs")

#: Jobs run at once by one server when no ``parent`` pool is given. Greenlets are cheap, but each
#: running job usually holds something that is not (a database connection, a socket).
DEFAULT_CONCURRENCY = 25
#: Seconds between heartbeats; a worker silent for twice this long is presumed dead.
DEFAULT_HEARTBEAT_INTERVAL = 5.0
#: Seconds in-flight jobs get to finish when the server stops.
DEFAULT_SHUTDOWN_TIMEOUT = 25.0
#: Seconds one blocking fetch waits for a job; bounds how long a stop takes when idle.
DEFAULT_BLOCK_TIMEOUT = 1.0
#: Jobs taken per fetch call at most (never more than there are free slots).
DEFAULT_FETCH_BATCH = 100
#: The largest ``fetch_batch`` allowed.
MAX_FETCH_BATCH = 1000
#: Jobs reported complete per script call at most.
SETTLE_BATCH = 500
#: Seconds finished jobs wait to be reported together: one round trip for all of them rather
#: than one per job or two, at the cost of running them again if the worker dies meanwhile.
SETTLE_DELAY = 0.005
#: Seconds a failing loop waits before trying again: the first wait, and the cap.
RETRY_WAIT_FIRST = 0.1
RETRY_WAIT_CAP = 5.0
#: Seconds stop() waits for a loop to finish the Redis call it is making before killing it anyway.
CALL_GRACE = 5.0

_SHUTDOWN = (gevent.GreenletExit, KeyboardInterrupt, SystemExit)


class JobTimeout(Exception):
    """A job ran past its time limit (a failure like any other: it is retried)."""


def _positive(name: str, value: Any, integer: bool = False) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or not value > 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, not {value!r}")
    return value


def error_record(error: BaseException, worker_id: str, limit: int = 4000) -> dict:
    """What the dead set keeps of an error: type, message, the end of the traceback, and where."""
    trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return {
        "type": type(error).__name__,
        "message": str(error),
        "traceback": trace[-limit:],
        "worker": worker_id,
    }


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
    ``fetch_batch`` (100)
        jobs taken per fetch call at most.
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
        resolution: float = 10,
        parent: Any = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL,
        max_attempts: Optional[int] = DEFAULT_MAX_ATTEMPTS,
        backoff: Backoff = default_backoff,
        timeout: Optional[float] = None,
        shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
        block_timeout: float = DEFAULT_BLOCK_TIMEOUT,
        fetch_batch: int = DEFAULT_FETCH_BATCH,
        dead_max: Optional[int] = DEFAULT_MAX_COUNT,
        dead_max_age: Optional[float] = DEFAULT_MAX_AGE,
        worker_id: Optional[str] = None,
        slots: Optional[Slots] = None,
        rank: int = 0,
    ) -> None:
        call = getattr(delegate, "call", None)
        if not callable(call):
            if not callable(delegate):
                raise TypeError("delegate must have a call(job) method or be callable")
            call = delegate
        self.delegate = delegate
        self._call: Callable[[Any], Any] = call
        self.client = client
        self.coder = coder
        self.resolution = _positive("resolution", resolution)
        self.concurrency = _positive("concurrency", concurrency, integer=True)
        self.heartbeat_interval = _positive("heartbeat_interval", heartbeat_interval)
        self.timeout = None if timeout is None else _positive("timeout", timeout)
        self.shutdown_timeout = float(shutdown_timeout)
        if self.shutdown_timeout < 0:
            raise ValueError("shutdown_timeout must not be negative")
        self.block_timeout = _positive("block_timeout", block_timeout)
        read_timeout = socket_timeout(client)
        if read_timeout and block_timeout >= read_timeout:
            raise ValueError(
                f"block_timeout ({block_timeout} s) must be below the client's socket_timeout ({read_timeout} s)"
            )
        self.fetch_batch = _positive("fetch_batch", fetch_batch, integer=True)
        if self.fetch_batch > MAX_FETCH_BATCH:
            # fetch.lua unpacks a batch's ids into single commands; Lua's unpack fails past a
            # few thousand values, and the origin design's promotion died of exactly that.
            raise ValueError(f"fetch_batch must be at most {MAX_FETCH_BATCH}, not {fetch_batch!r}")
        self.dead_max = dead_max
        self.dead_max_age = dead_max_age
        self.policy = RetryPolicy(max_attempts, backoff)

        self.id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.queue = Queue(client, prefix, coder)
        self.keys = self.queue.keys
        self.processing_list = ProcessingList(client, self.keys, self.id)
        self.registry = WorkerRegistry(client, self.keys)
        self.parent = parent if parent is not None else Runners(self.concurrency)
        self._own_parent = parent is None  # our runners are ours to end at stop
        # Taking more jobs than a smaller parent pool can start would hold them in our pending
        # list, waiting for a slot, while an idle worker could run them.
        size = getattr(self.parent, "size", None)
        if isinstance(size, int) and 0 < size < self.concurrency:
            self.concurrency = size

        #: The concurrency limit this server draws from, shared with other queues' servers in a
        #: ``MultiServer`` (where ``rank`` is this queue's priority, 0 first).
        self.slots = slots if slots is not None else Slots(self.concurrency)
        self.rank = rank

        self.started_at: Optional[float] = None
        self._greenlets: List[gevent.Greenlet] = []
        self._heartbeat: Optional[Heartbeat] = None
        self._in_flight: Dict[str, gevent.Greenlet] = {}
        self._slot_free = gevent.event.Event()
        self._hurry = gevent.event.Event()
        # Finished jobs not yet reported: ids to complete, and failures as (id, retry_at, error).
        self._completed: List[str] = []
        self._failed: List[Tuple[str, Optional[float], Optional[dict]]] = []
        # Ids finished here whose report Redis has not confirmed; never treated as orphans.
        self._unsettled: Set[str] = set()
        self._settle_wakeup = gevent.event.Event()
        self._reconcile_at = 0.0
        self._registered = False
        self._stopping = False
        self._stopped = gevent.event.Event()
        # Held by a loop while it makes a Redis call that stop() must not cut in half (see _kill_loop).
        self._in_call = {name: gevent.lock.Semaphore() for name in ("fetch", "settle", "promote")}

    # -- producing ----------------------------------------------------------------------------

    def call(self, job: dict) -> str:
        """Enqueue ``job`` (delayed when it has ``scheduled_at``) and return its id."""
        return self.queue.enqueue(job)

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.started_at is not None

    def start(self) -> bool:
        """Register this worker and start processing. Returns False if already started.

        Raises :class:`~gjobs.connection.RedisVersionError` for a Redis older than 6.2.
        """
        if self.running:
            return False
        if not monkey.is_module_patched("socket"):
            logger.warning(
                "gevent has not patched socket: Redis calls will block every greenlet; "
                "call gevent.monkey.patch_all() first (gjobs-worker does)"
            )
        check_version(self.client, f"{self.keys.tag}:probe")
        self.client.sadd(QUEUES, self.keys.prefix)  # so that `gjobs stats` finds this queue
        self._hurry.clear()
        self._stopped.clear()
        self._registered = False
        self.started_at = clock.now()
        try:
            self.beat()
        except BaseException:
            self.started_at = None  # not running: a later start() tries again, stop() does nothing
            raise
        self.slots.enter(self.rank)  # lower-ranked queues sharing the slots wait for its first fetch
        self._greenlets = [
            gevent.spawn(self._forever, "fetch", self._fetch_once),
            gevent.spawn(self._forever, "settle", self._settle_once),
            gevent.spawn(self._forever, "promote", self._promote),
        ]
        native = not in_process(self.client)
        registry = WorkerRegistry(clone(self.client), self.keys) if native else self.registry
        self._heartbeat = Heartbeat(lambda: self._tick(registry), self.heartbeat_interval, native)
        self._heartbeat.start()
        logger.info(
            "worker %s started on queue %r (concurrency %d, heartbeat every %.3g s)",
            self.id, self.keys.prefix, self.concurrency, self.heartbeat_interval,
        )
        return True

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop fetching at once, let in-flight jobs finish, and leave nothing behind in Redis.

        Jobs still running after ``timeout`` seconds (``shutdown_timeout`` by default), or at
        once after :meth:`hurry`, are killed. Their ids, and any fetched but not started, go back
        to the front of the ready list; the worker leaves the registry. Calling it on a stopped
        server does nothing.
        """
        if not self.running:
            return
        if self._stopping:
            self._stopped.wait()  # another greenlet is stopping this server: wait for it to finish
            return
        self._stopping = True
        try:
            self._shut_down(self.shutdown_timeout if timeout is None else timeout)
        finally:
            self._stopping = False
            self._stopped.set()

    def _shut_down(self, timeout: float) -> None:
        fetch, settle, promote = self._greenlets
        self._kill_loop("fetch", fetch)
        self.slots.leave(self.rank)
        self._drain(timeout)
        self._kill_loop("promote", promote)
        self._kill_loop("settle", settle)
        self._flush_at_stop()
        if self._heartbeat is not None:
            self._heartbeat.stop()
        try:
            released = self.processing_list.release()
        except Exception:
            logger.exception(
                "worker %s could not put its jobs back; they return when its heartbeat expires", self.id
            )
        else:
            if released:
                logger.info("worker %s put %d unfinished jobs back at the front of the queue", self.id, released)
        self.processing_list.close()
        self.started_at = None
        self._greenlets = []
        logger.info("worker %s stopped", self.id)

    def _kill_loop(self, name: str, greenlet: gevent.Greenlet) -> None:
        """Kill a loop between two Redis calls, not inside one.

        With an in-process Redis (fakeredis) a greenlet killed inside a script call leaves the
        script half done (ids popped from one list and never pushed to the other); with a real
        one it only wastes the call. A call stuck longer than ``CALL_GRACE`` is killed anyway.
        """
        guard = self._in_call[name]
        held = guard.acquire(timeout=CALL_GRACE)
        try:
            greenlet.kill(block=True)
        finally:
            if held:
                guard.release()

    def hurry(self) -> None:
        """Make a :meth:`stop` under way stop waiting for in-flight jobs (a second SIGTERM)."""
        self._hurry.set()

    def __enter__(self) -> "Server":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def _drain(self, timeout: float) -> None:
        deadline = clock.monotonic() + timeout
        while self._in_flight and not self._hurry.is_set():
            left = deadline - clock.monotonic()
            if left <= 0:
                break
            self._slot_free.clear()
            gevent.wait([self._slot_free, self._hurry], timeout=left, count=1)
        if self._in_flight:
            logger.warning("worker %s: killing %d jobs still running at shutdown", self.id, len(self._in_flight))
            gevent.killall(list(self._in_flight.values()), block=True)
        if self._own_parent:
            self.parent.kill()  # the idle runners: nothing else would end them

    def _flush_at_stop(self, tries: int = 3) -> None:
        for attempt in range(tries):
            try:
                self._flush()
                return
            except Exception as error:
                logger.warning("worker %s: reporting finished jobs failed (%s); retrying", self.id, error)
                gevent.sleep(RETRY_WAIT_FIRST * 2**attempt)
        logger.error(
            "worker %s: %d finished jobs could not be reported and will run again",
            self.id, len(self._completed) + len(self._failed),
        )

    def _forever(self, name: str, body: Callable[[], None]) -> None:
        """Run ``body`` until killed; after an error, log it and wait (capped exponential backoff)."""
        wait = RETRY_WAIT_FIRST
        while True:
            try:
                body()
                wait = RETRY_WAIT_FIRST
            except Exception as error:
                if isinstance(error, (ConnectionError, OSError)) or type(error).__module__.startswith("redis"):
                    logger.warning("%s loop of worker %s: %s: %s; retrying in %.1f s",
                                   name, self.id, type(error).__name__, error, wait)
                else:
                    logger.exception("%s loop of worker %s failed; retrying in %.1f s", name, self.id, wait)
                gevent.sleep(wait)
                wait = min(RETRY_WAIT_CAP, wait * 2)

    # -- fetching and running -----------------------------------------------------------------

    def _fetch_once(self) -> None:
        in_call = self._in_call["fetch"]
        if clock.monotonic() >= self._reconcile_at:
            with in_call:
                self._reconcile()
        slots = self.slots
        granted = slots.acquire(self.fetch_batch, self.rank)
        jobs: list = []
        try:
            with in_call:
                jobs, missing = self.processing_list.fetch(granted)
            if not jobs and not missing:
                # Block holding one slot only: the others may serve another queue meanwhile.
                slots.release(granted - 1)
                granted = 1
                slots.idle(self.rank)
                claimed = self.processing_list.wait(self.block_timeout)
                if claimed is None:
                    return
                more = slots.try_acquire(self.fetch_batch - 1, self.rank)
                granted += more
                with in_call:
                    jobs, missing = self.processing_list.fetch(more, claimed)
        except Exception:
            # The reply may have been lost after Redis moved ids into our pending list.
            self._reconcile_at = 0.0
            slots.idle(self.rank)  # while this loop backs off, lower-ranked queues need not wait
            raise
        finally:
            slots.release(granted - len(jobs) // 3)
        if missing:
            logger.warning("dropped %d jobs whose payload was missing: %s", len(missing), missing[:10])
        spawn = self.parent.spawn
        in_flight = self._in_flight
        for i in range(0, len(jobs), 3):
            job_id = text(jobs[i])
            in_flight[job_id] = spawn(self._run, job_id, jobs[i + 1], jobs[i + 2])

    def _reconcile(self) -> None:
        """Requeue ids in our pending list that this process does not know about.

        They got there when a fetch's reply was lost (a cut connection, a client-side retry);
        nobody else would ever requeue them while this worker keeps beating.
        """
        self._reconcile_at = clock.monotonic() + self.heartbeat_interval
        ids = self.processing_list.ids()
        known = self._in_flight.keys() | self._unsettled
        orphans = [job_id for job_id in ids if job_id not in known]
        if orphans:
            count = self.processing_list.requeue(orphans)
            if count:
                logger.warning("worker %s requeued %d jobs whose fetch reply was lost", self.id, count)

    def _run(self, job_id: str, payload: bytes, attempts: int) -> None:
        try:
            try:
                job = self.coder.load(payload)
            except Exception as error:
                logger.error("job %s cannot be decoded; it goes to the dead set: %s", job_id, error)
                self._fail(job_id, attempts, error, retryable=False)
                return
            limit = job.get("timeout", self.timeout) if isinstance(job, dict) else self.timeout
            try:
                if limit:
                    with gevent.Timeout(limit, JobTimeout(f"job {job_id} ran longer than {limit} s")):
                        self._call(job)
                else:
                    self._call(job)
            except _SHUTDOWN:
                raise  # not a failure: the job stays pending and stop() puts it back
            except BaseException as error:  # gevent.Timeout raised by the job itself included
                self._fail(job_id, attempts, error, not isinstance(error, Unretryable), job_max_attempts(job))
                return
            self._unsettled.add(job_id)
            self._completed.append(job_id)
            self._settle_wakeup.set()
        finally:
            self._in_flight.pop(job_id, None)
            self.slots.release()
            self._slot_free.set()

    def _fail(
        self, job_id: str, attempts: int, error: BaseException, retryable: bool = True,
        max_attempts: Optional[int] = None,
    ) -> None:
        decision = self.policy.decide(attempts, retryable, max_attempts)
        if decision.retry:
            logger.error(
                "job %s failed (attempt %d of %s); retrying in %.1f s",
                job_id, attempts, max_attempts or self.policy.max_attempts or "unlimited", decision.delay,
                exc_info=error,
            )
            entry = (job_id, clock.now() + decision.delay, None)
        else:
            logger.error("job %s failed (attempt %d); it goes to the dead set", job_id, attempts, exc_info=error)
            entry = (job_id, None, error_record(error, self.id))
        self._unsettled.add(job_id)
        self._failed.append(entry)
        self._settle_wakeup.set()

    # -- settling -----------------------------------------------------------------------------

    def _settle_once(self) -> None:
        if not (self._completed or self._failed):
            self._settle_wakeup.clear()
            self._settle_wakeup.wait()
        if len(self._completed) < SETTLE_BATCH:
            gevent.sleep(SETTLE_DELAY)  # let more jobs finish: one round trip reports them all
        with self._in_call["settle"]:
            self._flush(once=True)

    def _flush(self, once: bool = False) -> None:
        """Report finished jobs to Redis (one batch of each kind if ``once``, else all). A batch is
        taken off the queue only once Redis took it."""
        buried = 0
        while self._completed or self._failed:
            if self._completed:
                batch = self._completed[:SETTLE_BATCH]
                self.processing_list.complete(batch)
                del self._completed[: len(batch)]
                self._unsettled.difference_update(batch)
            while self._failed:
                job_id, retry_at, error = self._failed[0]
                if error is None:
                    self.processing_list.retry(job_id, retry_at)
                else:
                    error["failed_at"] = clock.now()
                    buried += self.processing_list.bury(job_id, error["failed_at"], error)
                self._failed.pop(0)
                self._unsettled.discard(job_id)
            if once:
                break
        if buried:
            self.queue.dead_set.trim(self.dead_max, self.dead_max_age)

    # -- delayed jobs -------------------------------------------------------------------------

    def _promote(self) -> None:
        """Promote due jobs, then sleep until the next is due, a wake-up, or ``resolution``."""
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            pubsub.subscribe(self.keys.wakeup)
            while True:
                with self._in_call["promote"]:
                    _, following = self.queue.delayed_jobs.promote_all()
                wait = self.resolution
                if following is not None:
                    wait = min(wait, max(0.0, following - clock.now()))
                if wait > 0:
                    pubsub.get_message(timeout=wait)
                while pubsub.get_message(timeout=0) is not None:
                    pass
        finally:
            pubsub.close()

    # -- heartbeat and recovery ---------------------------------------------------------------

    def info(self) -> dict:
        """What this worker publishes about itself with every heartbeat."""
        return {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": self.started_at,
            "concurrency": self.concurrency,
            "in_flight": len(self._in_flight),
        }

    def beat(self, now: Optional[float] = None, registry: Optional[WorkerRegistry] = None) -> None:
        """Record a heartbeat now; warns when others had presumed this worker dead."""
        added = (registry or self.registry).beat(self.id, clock.now() if now is None else now, self.info())
        if added and self._registered:
            logger.warning(
                "worker %s was presumed dead and its jobs were requeued; jobs running here may run twice",
                self.id,
            )
        self._registered = True

    def recover(self, now: Optional[float] = None, registry: Optional[WorkerRegistry] = None) -> int:
        """Requeue the jobs of every worker whose last beat is older than two intervals.

        Returns how many jobs were requeued or buried. Safe to run from many workers at once.
        """
        registry = registry or self.registry
        now = clock.now() if now is None else now
        before = now - 2 * self.heartbeat_interval
        handled = 0
        for worker_id in registry.stale(before):
            if worker_id == self.id:
                continue
            error = {
                "type": "WorkerLost",
                "message": f"abandoned: worker {worker_id} stopped heartbeating while running it, "
                f"and no attempts were left (max_attempts {self.policy.max_attempts})",
                "traceback": "",
                "worker": worker_id,
                "failed_at": now,
            }
            result = registry.recover(worker_id, before, self.policy.max_attempts_arg, now, error)
            if result is None:
                continue
            requeued, buried = result
            handled += requeued + buried
            logger.warning(
                "worker %s stopped heartbeating: requeued %d of its jobs, %d went to the dead set",
                worker_id, requeued, buried,
            )
            if buried:
                DeadSet(registry.client, self.keys).trim(self.dead_max, self.dead_max_age)
        return handled

    def _tick(self, registry: WorkerRegistry) -> None:
        try:
            self.beat(registry=registry)
            self.recover(registry=registry)
        except Exception as error:
            logger.warning("heartbeat of worker %s failed: %s: %s", self.id, type(error).__name__, error)

    # -- status -------------------------------------------------------------------------------

    @property
    def in_progress(self) -> int:
        """Jobs running in this server now."""
        return len(self._in_flight)

    def status_string(self) -> str:
        """``R=<ready> D=<delayed> P=<in progress>/<completed>``, e.g. ``R=3.42K D=1.23K P=7/2.34K``.

        Ready, delayed and completed are the whole queue's; in progress is this server's.
        """
        pipe = self.client.pipeline(transaction=False)
        pipe.llen(self.keys.ready)
        pipe.zcard(self.keys.delayed)
        pipe.get(self.keys.completed)
        ready, delayed, completed = pipe.execute()
        return format_status(ready, delayed, self.in_progress, int(completed or 0))
