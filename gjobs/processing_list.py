"""The pending list of one worker: the jobs it has taken from the ready list and not settled.

A worker moves ids from the ready list into its own pending list atomically, so an id is always
somewhere in Redis: ready, delayed, pending under a worker, or dead. Settling a job (complete,
retry, bury, finish) takes it out of the pending list in the same script that puts it where it
goes next, and keeps the record of finished jobs (``{prefix}:done``, two generations bounded by
count and age: see complete.lua) that job lookups read. The pending lists of workers that
stopped beating are recovered through the :class:`~gjobs.worker_registry.WorkerRegistry`.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Tuple

from . import clock, scripts
from .adapter import Network, adapter_for
from .counts import BUCKET_TTL, minute_of
from .keys import Keys, text
from .lane import Lane
from .worker_registry import MOVE_BATCH

#: Finished jobs (succeeded, cancelled, expired) whose state is kept for lookups, at least the last...
DEFAULT_KEEP_FINISHED = 10_000
#: ... of this many seconds (a day); up to twice as many, twice as long, are kept (see complete.lua).
DEFAULT_KEEP_FINISHED_AGE = 24 * 3600.0

#: A job as a fetch hands it out: ``(id, encoded payload, number of this attempt)``. A plain
#: tuple, not a named one: building a NamedTuple per job cost the worker about 2 us per job.
Fetched = Tuple[str, bytes, int]


class ProcessingList:
    """The pending list of one worker (``worker_id``) and the scripts that settle its jobs.

    ``fetch_lane`` and ``settle_lane`` carry the calls of the fetch and settle loops, which run
    all day long (see :mod:`gjobs.lane`); the worker that owns them closes them. Without them
    every call goes through the client's pool and nothing is held.
    """

    def __init__(
        self, client: Any, keys: Keys, worker_id: str, *,
        fetch_lane: Optional[Lane] = None, settle_lane: Optional[Lane] = None,
        adapter: Optional[Network] = None,
        keep_finished: int = DEFAULT_KEEP_FINISHED, keep_finished_age: float = DEFAULT_KEEP_FINISHED_AGE,
    ) -> None:
        self.client = client
        self.keys = keys
        self.worker_id = worker_id
        self.key = keys.pending(worker_id)
        self._fetch = scripts.register(client, "fetch")
        self._complete = scripts.register(client, "complete")
        self._retry = scripts.register(client, "retry")
        self._bury = scripts.register(client, "bury")
        self._finish = scripts.register(client, "finish")
        self._requeue = scripts.register(client, "requeue")
        self._release = scripts.register(client, "release")
        self._adapter = adapter or adapter_for(client)
        self._fetch_lane = fetch_lane or Lane(client, direct=False)
        self._settle_lane = settle_lane or Lane(client, direct=False)
        self._fetch_keys = [
            keys.ready, self.key, keys.jobs, keys.attempts, keys.missing, keys.paused, keys.cancels, keys.finished,
            keys.finished_old,
        ]
        self._complete_keys = [
            self.key, keys.jobs, keys.attempts, keys.completed, keys.progress, keys.finished, keys.finished_old,
            keys.unique, keys.unique_of,
        ]
        self._complete_args = [worker_id, keep_finished, repr(float(keep_finished_age))]
        self._retry_keys = [self.key, keys.delayed, keys.retried]
        self._bury_keys = [
            self.key, keys.dead, keys.dead_errors, keys.progress, keys.unique, keys.unique_of, keys.buried,
        ]
        self._offset = 0.0  # Redis's clock minus this host's, from the last fetch: for the minute

    # -- taking jobs --------------------------------------------------------------------------

    def fetch(self, count: int, claimed: str = "") -> Tuple[List[Fetched], List[str], float, bool]:
        """Take up to ``count`` ready jobs without blocking (plus ``claimed``, already moved).

        Returns ``(jobs, missing, now, paused)``: the jobs taken, the ids dropped because their
        payload was gone (cancelled jobs are dropped quietly, not listed), Redis's time, and
        whether the queue is paused (then nothing is taken and ``claimed`` goes back).
        """
        flat, missing, now, paused = self._fetch_lane.run(self._fetch, self._fetch_keys, (count, claimed))
        fields = iter(flat)  # id, payload, attempts, id, ...: three at a time make a record
        jobs = [(text(job_id), payload, attempts) for job_id, payload, attempts in zip(fields, fields, fields)]
        self._offset = float(now) - clock.now()
        return jobs, missing, float(now), bool(paused)

    def wait(self, timeout: float) -> Optional[str]:
        """Block up to ``timeout`` seconds for one ready id and move it into the pending list."""
        moved = self._adapter.move(self._fetch_lane, self.keys.ready, self.key, timeout)
        return None if moved is None else text(moved)

    # -- settling jobs ------------------------------------------------------------------------

    def complete(self, job_ids: Iterable[str], unique: bool = False, tracked: Optional[Dict[str, float]] = None) -> int:
        """Settle finished jobs (``unique``: some hold a unique key to release; ``tracked``: ``{id:
        seconds it ran}`` of those whose record keeps that and their attempts); returns how many
        were still ours."""
        args = [*self._complete_args, json.dumps(tracked) if tracked else "", "1" if unique else "0", BUCKET_TTL,
                *job_ids]
        return int(self._settle_lane.run(self._complete, [*self._complete_keys, self._minute()], args))

    def retry(self, job_id: str, delay: float) -> int:
        """Move a failed job to the delayed set, due ``delay`` seconds from Redis's now; 0 if it
        was no longer ours."""
        args = (job_id, repr(delay), self.keys.wakeup, BUCKET_TTL)
        return int(self._settle_lane.run(self._retry, [*self._retry_keys, self._minute()], args))

    def bury(self, job_id: str, when: float, error: Dict[str, Any]) -> int:
        """Move a failed job to the dead set with its error record; 0 if it was no longer ours."""
        args = (job_id, repr(when), json.dumps(error), BUCKET_TTL)
        return int(self._settle_lane.run(self._bury, [*self._bury_keys, self._minute()], args))

    def _minute(self) -> str:
        """The key of this minute's counts, by Redis's clock as the last fetch read it."""
        return self.keys.minute(minute_of(clock.now() + self._offset))

    def keep_results(self, kept: Dict[str, Tuple[bytes, float]]) -> None:
        """Store the results of jobs about to be reported complete: ``{id: (stored, seconds)}``,
        in one round trip (each under its own key, with its expiry)."""
        result = self.keys.result
        self._settle_lane.pipeline(
            [("SET", result(job_id), stored, "PX", max(1, int(ttl * 1000))) for job_id, (stored, ttl) in kept.items()]
        )

    def finish(self, job_id: str, state: str, ran_for: float = 0.0) -> int:
        """Settle a job that was cancelled while it ran (``ran_for`` seconds), or expired before it
        started (``state``); 0 if it was no longer ours."""
        keys = self.keys
        counter = keys.cancelled if state == "cancelled" else keys.expired
        return int(self._settle_lane.run(self._finish, [
            self.key, keys.jobs, keys.attempts, keys.progress, keys.finished, keys.finished_old,
            keys.cancels, counter, keys.unique, keys.unique_of,
        ], (job_id, state, self.worker_id, repr(float(ran_for)), *self._complete_args[1:])))

    def cancelled_among(self, job_ids: Iterable[str]) -> List[str]:
        """The ids among ``job_ids`` whose cancel was asked (a worker that missed the message)."""
        ids = list(job_ids)
        if not ids:
            return []
        scores = self.client.zmscore(self.keys.cancels, ids)
        return [job_id for job_id, score in zip(ids, scores) if score is not None]

    def requeue(self, job_ids: Iterable[str]) -> int:
        """Put ids still in this pending list back at the front of the ready list."""
        ids = list(job_ids)
        if not ids:
            return 0
        return int(self._requeue(keys=[self.key, self.keys.ready, self.keys.attempts], args=ids))

    def release(self) -> int:
        """Put every job of this worker back at the front of the ready list and deregister it."""
        keys = [self.key, self.keys.ready, self.keys.attempts, self.keys.workers, self.keys.workers_info]
        total = 0
        while True:
            released, done = self._release(keys=keys, args=[self.worker_id, MOVE_BATCH])
            total += int(released)
            if done:
                return total

    def ids(self) -> List[str]:
        """Every id in this pending list, newest first."""
        return [text(i) for i in self.client.lrange(self.key, 0, -1)]

    def size(self) -> int:
        return int(self.client.llen(self.key))
