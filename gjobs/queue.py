"""The client-side face of a queue: enqueue, inspect, repair. Synchronous and gevent-agnostic.

A :class:`Queue` needs only a redis-py client; it works in a patched gevent process, a plain
threaded WSGI server or a cron script alike, and shares the structure classes (and so the Lua)
of the :class:`~gjobs.server.Server`, so producers and workers can never disagree on the layout.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union, cast

from . import middleware as _middleware
from . import reserved
from .batch_enqueue import BatchEnqueue
from .coder import DEFAULT, load_for_showing, parse_time
from .connection import NotReplicatedError, connect, is_cluster, node_client
from .control import Control
from .cron_table import CronTable
from .dead_set import DeadJob, DeadSet
from .delayed_jobs import DelayedJobs, due_in
from .ids import new_id
from .job_store import JobStore
from .keys import Keys
from .lookup import JobInfo, Lookup
from .ready_list import ReadyList
from .schedule import periodic as _periodic
from .singular import Singular
from .stats import queue_stats
from .tasks import task as _task
from .validate import non_negative, positive
from .worker_registry import WorkerRegistry

#: Jobs sent per script call by :meth:`Queue.enqueue_many`.
ENQUEUE_CHUNK = 500
#: The largest chunk allowed: the enqueue script unpacks a chunk's ids into one LPUSH, and Lua's
#: unpack fails past a few thousand values.
MAX_CHUNK = 2000
#: Seconds an enqueue waits for ``wait_replicas`` replicas to acknowledge it.
DEFAULT_WAIT_TIMEOUT = 1.0
#: Seconds a job id given by the caller is remembered: enqueueing it again within this time
#: writes nothing (a day: far beyond any retry of a timed-out call).
ID_MEMORY = 24 * 3600.0
#: Characters a caller's job id may have at most.
MAX_ID_LENGTH = 200
#: Seconds a unique key is held at most when the job gives no ``unique_for``: past it, a job
#: that never ended (its worker lost, its record gone) no longer keeps others out.
UNIQUE_FOR = 3600.0


class EnqueueError(Exception):
    """A batch enqueue failed part-way; ``written`` holds the ids that were stored."""

    def __init__(self, message: str, written: List[str]) -> None:
        super().__init__(message)
        self.written = written


#: When a job is due: epoch seconds, or ``"+SECONDS"`` from Redis's now.
Due = Union[float, str]


class Queue:
    """One queue (``prefix``) on one Redis, as producers and operators see it.

    ``wait_replicas`` (0: off) makes every enqueue wait (``WAIT``) until that many replicas hold
    it, ``wait_timeout`` seconds at most, else raise :class:`~gjobs.connection.NotReplicatedError`.
    A queue holds no connection between calls, so a web app may build one per request;
    :meth:`close` (or ``with``) closes the client only of a queue :meth:`from_url` made.
    """

    def __init__(
        self, client: Any, prefix: str = "gjobs", coder: Any = DEFAULT, *,
        wait_replicas: int = 0, wait_timeout: float = DEFAULT_WAIT_TIMEOUT,
    ) -> None:
        self.wait_replicas = non_negative("wait_replicas", wait_replicas, integer=True)
        self.wait_timeout = positive("wait_timeout", wait_timeout)
        self.client = client
        self._owns_client = False
        self.keys = Keys(prefix)
        self.coder = coder
        self.job_store = JobStore(client, self.keys)
        self.ready_list = ReadyList(client, self.keys)
        self.delayed_jobs = DelayedJobs(client, self.keys)
        self.dead_set = DeadSet(client, self.keys)
        self.registry = WorkerRegistry(client, self.keys)
        self._singular, self._batch = Singular(client, self.keys), BatchEnqueue(client, self.keys)
        #: Following jobs by id (see :mod:`gjobs.lookup`).
        self.lookup = Lookup(client, self.keys, coder)
        #: The operator's actions: cancel, pause, listings, purge (see :mod:`gjobs.control`).
        self.control = Control(client, self.keys, self._decode)
        #: The schedules running workers declare: ``list()``, ``run``, ``pause``, ``resume``.
        self.schedules = CronTable(client, self.keys, coder)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "gjobs", coder: Any = DEFAULT, *,
        wait_replicas: int = 0, wait_timeout: float = DEFAULT_WAIT_TIMEOUT, **options: Any,
    ) -> "Queue":
        """A queue on the Redis, Cluster or Sentinel service at ``url`` (see
        :func:`gjobs.connection.connect`; ``options`` go to it)."""
        queue = cls(connect(url, **options), prefix, coder, wait_replicas=wait_replicas, wait_timeout=wait_timeout)
        queue._owns_client = True
        return queue

    def sibling(self, prefix: str) -> "Queue":
        """The queue ``prefix`` on the same Redis, with the same coder and replica waits."""
        waits = {"wait_replicas": self.wait_replicas, "wait_timeout": self.wait_timeout}
        return type(self)(self.client, prefix, self.coder, **waits)

    @property
    def prefix(self) -> str:
        return self.keys.prefix

    def close(self) -> None:
        """Close the client if this queue made it (:meth:`from_url`); a given one is the caller's."""
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> "Queue":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- enqueue ------------------------------------------------------------------------------

    def encode(self, job: Any) -> bytes:
        """The payload for ``job``; raises ``TypeError``/``ValueError`` when it cannot be stored."""
        if not isinstance(job, dict):
            raise TypeError(f"a job must be a dict, not {type(job).__name__}")
        try:
            return cast(bytes, self.coder.dump(job))
        except (TypeError, ValueError):
            raise
        except Exception as error:
            raise ValueError(f"the coder cannot encode this job: {error}") from error

    def prepare(self, job: Any, when: Any = None) -> Tuple[str, Optional[Due], bytes]:
        """Validate and encode ``job``: ``(id, due or None, payload)``, nothing written.

        The due is ``when`` if given (epoch seconds, or a delay from Redis's now made by
        :func:`~gjobs.delayed_jobs.due_in`), else the job's own ``scheduled_at``. The reserved
        keys are checked (see :mod:`gjobs.reserved`).
        """
        job = _middleware.before_enqueue(job, self.prefix) if _middleware.installed else job
        payload = self.encode(job)
        reserved.check(job)
        due = when if isinstance(when, str) else parse_time(job.get("scheduled_at") if when is None else when)
        return new_id(), due, payload

    def enqueue(self, job: Dict[str, Any], *, id: Optional[str] = None) -> str:
        """Store ``job`` and return its id. It runs now, or at its ``scheduled_at`` if it has one.

        With ``id`` (the caller's own), the job is stored at most once: enqueueing an id taken in
        the last :data:`ID_MEMORY` seconds (or still queued) writes nothing and returns it, so a
        call that timed out after Redis took the job can safely be made again.
        """
        return self._one(job, self.prepare(job), id)

    def enqueue_at(self, job: Dict[str, Any], when: Any, *, id: Optional[str] = None) -> str:
        """Store ``job`` to run at ``when`` (a datetime, an epoch number or an ISO-8601 string);
        ``id`` as for :meth:`enqueue`."""
        if when is None:
            raise ValueError("enqueue_at needs a time; use enqueue() to run now")
        return self._one(job, self.prepare(job, when), id)

    def enqueue_in(self, job: Dict[str, Any], delay: Any, *, id: Optional[str] = None) -> str:
        """Store ``job`` to run ``delay`` (seconds or a ``timedelta``) after now by Redis's clock,
        whatever this process's clock says; ``id`` as for :meth:`enqueue`."""
        seconds = delay.total_seconds() if isinstance(delay, _dt.timedelta) else delay
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds != seconds:
            raise TypeError(f"delay must be a number of seconds or a timedelta, not {delay!r}")
        return self._one(job, self.prepare(job, due_in(seconds)), id)

    def _one(self, job: Dict[str, Any], prepared: Tuple[str, Optional[Due], bytes], job_id: Optional[str]) -> str:
        unique = job.get("unique_key")
        if job_id is None and unique is None:
            return self._batch.add(prepared) if not self.wait_replicas else self._write([prepared])[0]  # WAIT: alone
        if job_id is not None and (not isinstance(job_id, str) or not 0 < len(job_id) <= MAX_ID_LENGTH):
            raise ValueError(f"a job id must be a string of 1 to {MAX_ID_LENGTH} characters, not {job_id!r}")
        new, due, payload = prepared
        when = "" if due is None else due if isinstance(due, str) else repr(due)
        if unique is not None:
            # A job holding a unique key: the first one's id while it is queued or running.
            return self._singular.unique(job_id or new, payload, when, unique, job.get("unique_for") or UNIQUE_FOR)
        return self._singular.by_id(cast(str, job_id), payload, when, ID_MEMORY)

    def enqueue_many(self, jobs: Iterable[Dict[str, Any]], chunk: int = ENQUEUE_CHUNK) -> List[str]:
        """Store many jobs, ``chunk`` per round trip; returns their ids in order.

        Every job is validated and encoded first: an invalid one raises ``TypeError`` or
        ``ValueError`` naming its index, and nothing is written. If Redis fails part-way,
        :class:`EnqueueError` says how many were written and carries their ids.
        """
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 1 <= chunk <= MAX_CHUNK:
            raise ValueError(f"chunk must be a whole number from 1 to {MAX_CHUNK}, not {chunk!r}")
        prepared = []
        for index, job in enumerate(jobs):
            try:
                if isinstance(job, dict) and job.get("unique_key") is not None:
                    raise ValueError("enqueue_many takes no job with a unique_key: enqueue those one at a time")
                prepared.append(self.prepare(job))
            except (TypeError, ValueError) as error:
                raise type(error)(f"job at index {index}: {error}; nothing was enqueued") from error
        return self._write(prepared, chunk)

    def _write(self, prepared: Sequence[Tuple[str, Optional[Due], bytes]], chunk: int = ENQUEUE_CHUNK) -> List[str]:
        written: List[str] = []
        for start in range(0, len(prepared), chunk):
            part = prepared[start : start + chunk]
            now = [(job_id, payload) for job_id, due, payload in part if due is None]
            later = [entry for entry in part if entry[1] is not None]
            try:
                self._store(now, later)
            except Exception as error:
                if len(prepared) == 1:
                    raise
                raise EnqueueError(
                    f"enqueue failed after {len(written)} of {len(prepared)} jobs were written: {error}",
                    written,
                ) from error
            written += [entry[0] for entry in part]
        return written

    def _store(self, now: List[Tuple[str, bytes]], later: List[Tuple[str, Any, bytes]]) -> None:
        """Write one chunk of ready and delayed jobs, in one round trip when the client allows."""
        if self.wait_replicas:
            # WAIT counts the writes of its own connection: same pipeline, same server.
            pipe = node_client(self.client, self.keys.jobs).pipeline(transaction=False)
        elif now and later and not is_cluster(self.client):
            pipe = self.client.pipeline(transaction=False)
        else:
            pipe = None  # a cluster pipeline cannot run scripts: one call each
        if now:
            self.ready_list.add(now, client=pipe)
        if later:
            self.delayed_jobs.add(later, client=pipe)
        if pipe is None:
            return
        if self.wait_replicas:
            pipe.execute_command("WAIT", self.wait_replicas, max(1, int(self.wait_timeout * 1000)))
        replies = pipe.execute()
        if self.wait_replicas and replies[-1] < self.wait_replicas:
            raise NotReplicatedError(
                f"{replies[-1]} of {self.wait_replicas} replicas acknowledged the enqueue "
                f"within {self.wait_timeout} s"
            )

    def task(self, fn: Any = None, **options: Any) -> Any:
        """Register ``fn`` as a task whose jobs go to this queue: ``@queue.task`` or
        ``@queue.task(max_attempts=3, timeout=30)`` (see :func:`gjobs.tasks.task`)."""
        if "queue" in options:
            raise TypeError("queue.task sends jobs to its own queue; use gjobs.task(queue=...) for another")
        return _task(fn, queue=self, **options)

    def periodic(self, cron: Optional[str] = None, **options: Any) -> Any:
        """A schedule whose jobs go to this queue: ``@queue.periodic("0 3 * * *")``, ``@queue.periodic
        (every=30)``, ``queue.periodic(every=60, name=..., job={...})`` (:func:`gjobs.schedule.periodic`)."""
        if "queue" in options:
            raise TypeError("queue.periodic sends jobs to its own queue; use gjobs.periodic(queue=...) for another")
        return _periodic(cron, queue=self, **options)

    # -- inspect ------------------------------------------------------------------------------

    def stats(self) -> Dict[str, Any]:
        """Counts for the whole queue, and the live workers with their in-flight jobs (see
        :func:`gjobs.stats.queue_stats`)."""
        return queue_stats(self.client, self.keys, self.registry)

    # -- following and steering jobs --------------------------------------------------------

    def job(self, job_id: str) -> JobInfo:
        """What became of ``job_id``: its state and what is known of it (see :mod:`gjobs.lookup`)."""
        return self.lookup.job(job_id)

    def result(self, job_id: str, timeout: Optional[float] = None) -> Any:
        """The result of a job that kept one (``result_ttl``), waiting up to ``timeout`` seconds
        (forever when None); see :meth:`gjobs.lookup.Lookup.result` for what it raises."""
        return self.lookup.result(job_id, timeout)

    def cancel(self, job_id: str) -> bool:
        """Make ``job_id`` never run (again); see :meth:`gjobs.control.Control.cancel`."""
        return self.control.cancel(job_id)

    def pause(self) -> None:
        """Workers stop taking this queue's jobs within a block timeout; enqueues go on."""
        self.control.pause()

    def resume(self) -> None:
        self.control.resume()

    def completed_count(self) -> int:
        return int(self.client.get(self.keys.completed) or 0)

    # -- the dead set -------------------------------------------------------------------------

    def dead(self, limit: int = 100, offset: int = 0) -> List[DeadJob]:
        """Dead jobs, most recent first: ``id``, ``job`` (decoded when possible), ``attempts``,
        ``error`` (type, message, traceback) and ``failed_at`` (epoch seconds)."""
        return [entry._replace(job=self._decode(entry.job)) for entry in self.dead_set.entries(limit, offset)]

    def _decode(self, payload: Optional[bytes]) -> Any:
        return load_for_showing(self.coder, payload)

    def retry_dead(self, ids: Optional[Iterable[str]] = None) -> int:
        """Requeue dead jobs (all when ``ids`` is None) with their attempts reset."""
        return self.dead_set.retry(ids)

    def purge_dead(self, ids: Optional[Iterable[str]] = None) -> int:
        """Delete dead jobs (all when ``ids`` is None) for good."""
        return self.dead_set.purge(ids)
