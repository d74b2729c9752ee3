"""Following a job by its id: what state it is in, and its result once it has one.

A lookup reads, in two round trips, every structure that can hold the id: the job store, the
delayed set, the dead set, the pending lists of the registered workers, the ready list (only its
next :data:`POSITION_LIMIT` ids, for the position), the progress, the finished jobs and the
result; a running job's start time comes from its worker's last heartbeat. States:

``delayed``    due later (``due_at``)                ``retrying``  failed, due again (``due_at``)
``ready``      waiting its turn (``position``)       ``running``   on ``worker`` since ``started_at``
``succeeded``  ended well (``finished_at``, ``ran_for``)  ``dead``  failed for good (``error``)
``cancelled``  cancelled before or while it ran       ``expired``   not started before ``expires``
``unknown``    never enqueued, or forgotten (finished jobs are kept for a bounded time and count)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, cast

from . import results
from .coder import load_for_showing
from .ids import enqueued_at
from .keys import Keys, text

#: Ids from the front of the ready list searched for a ready job's position; beyond, it is None.
POSITION_LIMIT = 10_000
#: Seconds between two looks while waiting for a result: the first, and the longest.
RESULT_POLL_FIRST = 0.01
RESULT_POLL_CAP = 0.5


class UnknownJob(LookupError):
    """No job with this id: never enqueued, or finished and forgotten."""


class JobFailed(Exception):
    """The job ended without a result: ``info`` says how (dead, with its ``error``; cancelled;
    expired)."""

    def __init__(self, message: str, info: "JobInfo") -> None:
        super().__init__(message)
        self.info = info


@dataclass
class JobInfo:
    """What is known of one job. Times are epoch seconds by Redis's clock; ``job`` is the decoded
    payload while the job is queued, running or dead (None once it finished). A running job's
    ``started_at`` comes with its worker's next heartbeat: None during its first seconds."""

    id: str
    state: str
    job: Any = None
    attempts: int = 0
    enqueued_at: Optional[float] = None
    due_at: Optional[float] = None
    position: Optional[int] = None
    worker: Optional[str] = None
    started_at: Optional[float] = None
    finished_at: Optional[float] = None
    ran_for: Optional[float] = None
    error: Optional[Dict[str, Any]] = None
    progress: Optional[Dict[str, Any]] = None
    result_kept: bool = False

    @property
    def task(self) -> Optional[str]:
        return self.job.get("task") if isinstance(self.job, dict) else None

    @property
    def args(self) -> Any:
        return self.job.get("args") if isinstance(self.job, dict) else None

    @property
    def kwargs(self) -> Any:
        return self.job.get("kwargs") if isinstance(self.job, dict) else None

    def as_dict(self) -> Dict[str, Any]:
        """Everything, as JSON-ready values (for ``--json``)."""
        shown = dict(self.__dict__, task=self.task)
        if isinstance(self.job, bytes):
            shown["job"] = self.job.decode("utf-8", "replace")
        return shown


class JobHandle(str):
    """A job's id, as ``Task.delay()`` returns it: a ``str`` (so callers that keep ids keep
    working) that can also follow its job: :meth:`info`, :meth:`result`, :meth:`cancel`."""

    queue: Any

    def __new__(cls, job_id: str, queue: Any) -> "JobHandle":
        handle = super().__new__(cls, job_id)
        handle.queue = queue
        return handle

    def info(self) -> JobInfo:
        return cast(JobInfo, self.queue.job(str(self)))

    def result(self, timeout: Optional[float] = None) -> Any:
        return self.queue.result(str(self), timeout)

    def cancel(self) -> bool:
        return bool(self.queue.cancel(str(self)))


class Lookup:
    """Reads the state of jobs of one queue (``keys``) through ``client``, decoding with ``coder``."""

    def __init__(self, client: Any, keys: Keys, coder: Any) -> None:
        self.client = client
        self.keys = keys
        self.coder = coder

    def job(self, job_id: str) -> JobInfo:
        """The state of ``job_id`` (``unknown`` when nothing holds it)."""
        keys = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hget(keys.jobs, job_id)
        pipe.hget(keys.attempts, job_id)
        pipe.zscore(keys.delayed, job_id)
        pipe.zscore(keys.dead, job_id)
        pipe.hget(keys.dead_errors, job_id)
        pipe.hget(keys.progress, job_id)
        pipe.hget(keys.finished, job_id)
        pipe.hget(keys.finished_old, job_id)
        pipe.zscore(keys.ids, job_id)
        pipe.exists(keys.result(job_id))
        pipe.zrange(keys.workers, 0, -1)
        (payload, attempts, due, died, error, progress, finished, older, enqueued, kept, workers) = pipe.execute()
        record = finished if finished is not None else older
        info = JobInfo(job_id, "unknown", attempts=int(attempts or 0), enqueued_at=enqueued_at(job_id, enqueued),
                       result_kept=bool(kept))
        if payload is not None:
            info.job = load_for_showing(self.coder, payload)
        if died is not None and error is not None:
            info.state, info.finished_at, info.error = "dead", float(died), json.loads(error)
        elif due is not None:
            info.state, info.due_at = ("retrying" if info.attempts else "delayed"), float(due)
        elif payload is not None:
            self._ready_or_running(info, [text(w) for w in workers])
            if info.state == "running" and progress:
                info.progress = json.loads(progress)
        elif record is not None:
            fields = text(record).split("|", 4)
            info.state, info.finished_at = "succeeded", float(fields[0])
            if len(fields) == 5:  # how it ended, and more; a job with none of gjobs' keys keeps no more
                info.state, info.ran_for = fields[1], float(fields[2])
                info.attempts, info.worker = int(fields[3]), fields[4] or None
        return info

    def _ready_or_running(self, info: JobInfo, workers: List[str]) -> None:
        pipe = self.client.pipeline(transaction=False)
        for worker in workers:
            pipe.lpos(self.keys.pending(worker), info.id)
        pipe.lpos(self.keys.ready, info.id, rank=-1, maxlen=POSITION_LIMIT)
        *found, index = pipe.execute()
        holder = next((worker for worker, at in zip(workers, found) if at is not None), None)
        if holder is not None:
            info.state, info.worker = "running", holder
            described = self.client.hget(self.keys.workers_info, holder)
            try:
                since = json.loads(described).get("running", {}) if described else {}
            except ValueError:
                since = {}
            started = since.get(info.id) if isinstance(since, dict) else None
            info.started_at = float(started) if isinstance(started, (int, float)) else None
            return
        info.state = "ready"
        if index is not None:
            info.position = self.client.llen(self.keys.ready) - 1 - index  # 0: it runs next

    def result(self, job_id: str, timeout: Optional[float] = None) -> Any:
        """The job's result, waiting up to ``timeout`` seconds (forever when None) for it.

        The wait sleeps between looks with ``time.sleep``: cooperative under gevent, blocking
        without. Raises :class:`JobFailed` when the job ended without a result (dead: its
        ``info.error`` is the dead record; cancelled; expired; a result refused or expired),
        :class:`UnknownJob` for an unknown id, and ``TimeoutError`` when the wait runs out.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = RESULT_POLL_FIRST
        while True:
            stored = self.client.get(self.keys.result(job_id))
            if stored is not None:
                try:
                    return results.decode(self.coder, stored)
                except results.ResultRefused as refused:
                    raise JobFailed(f"job {job_id} succeeded, but its result was not kept: {refused}",
                                    self.job(job_id)) from None
            info = self.job(job_id)
            if info.state == "unknown":
                raise UnknownJob(f"unknown job {job_id!r} in queue {self.keys.prefix!r}")
            if info.state == "dead":
                error = cast(Dict[str, Any], info.error)  # a dead job always has its error record
                raise JobFailed(f"job {job_id} is dead: {error.get('type')}: {error.get('message')}", info)
            if info.state in ("cancelled", "expired"):
                raise JobFailed(f"job {job_id} was {info.state}", info)
            if info.state == "succeeded":
                if info.result_kept:
                    continue  # stored between the two reads (a result is written before its job completes)
                raise JobFailed(f"job {job_id} succeeded, but it kept no result (no result_ttl, or it expired)", info)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} is {info.state}: no result within {timeout} s")
            left = pause if deadline is None else max(0.0, min(pause, deadline - time.monotonic()))
            time.sleep(left)
            pause = min(RESULT_POLL_CAP, pause * 2)
