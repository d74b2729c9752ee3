"""The processing lists: the jobs each worker has taken, and the registry of live workers.

A worker moves ids from the ready list into its own pending list atomically, so an id is always
somewhere in Redis: ready, delayed, pending under a worker, or dead. Each worker beats into a
registry (a sorted set scored by the last beat), and any worker recovers the pending list of a
worker whose last beat is too old. Recovery reads only the registry, never the keyspace, so it
costs nothing when every worker is alive and works unchanged on Redis Cluster.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterable, List, Optional, Sequence, Tuple

import gevent

from . import scripts
from .connection import in_process
from .keys import Keys, text
from .lane import Lane

#: Ids moved per release or recover call.
MOVE_BATCH = 500


class ProcessingList:
    """The pending list of one worker (``worker_id``) and the scripts that settle its jobs."""

    def __init__(self, client: Any, keys: Keys, worker_id: str) -> None:
        self.client = client
        self.keys = keys
        self.worker_id = worker_id
        self.key = keys.pending(worker_id)
        self._fetch = scripts.register(client, "fetch")
        self._complete = scripts.register(client, "complete")
        self._fail = scripts.register(client, "fail")
        self._requeue = scripts.register(client, "requeue")
        self._release = scripts.register(client, "release")
        self._poll = in_process(client)
        self._fetch_keys = [keys.ready, self.key, keys.jobs, keys.attempts, keys.missing]
        self._complete_keys = [self.key, keys.jobs, keys.attempts, keys.completed]
        # The fetch loop and the settle loop each call Redis once per batch, all the time: each
        # gets a connection of its own (see gjobs.lane). Other callers go through the pool.
        self._fetch_lane = Lane(client)
        self._settle_lane = Lane(client)

    # -- taking jobs --------------------------------------------------------------------------

    def fetch(self, count: int, claimed: str = "") -> Tuple[list, list]:
        """Take up to ``count`` ready jobs without blocking (plus ``claimed``, already moved).

        Returns ``(jobs, missing)``: ``jobs`` is a flat list ``id, payload, attempts, ...`` and
        ``missing`` the ids dropped because their payload was gone.
        """
        jobs, missing = self._fetch_lane.run(self._fetch, self._fetch_keys, (count, claimed))
        return jobs, missing

    def wait(self, timeout: float) -> Optional[str]:
        """Block up to ``timeout`` seconds for one ready id and move it into the pending list."""
        if self._poll:
            return self._poll_move(timeout)
        moved = self._fetch_lane.execute("BLMOVE", self.keys.ready, self.key, "RIGHT", "LEFT", timeout)
        return None if moved is None else text(moved)

    def _poll_move(self, timeout: float, interval: float = 0.005) -> Optional[str]:
        deadline = time.monotonic() + timeout
        while True:
            moved = self.client.lmove(self.keys.ready, self.key, "RIGHT", "LEFT")
            if moved is not None:
                return text(moved)
            if time.monotonic() >= deadline:
                return None
            gevent.sleep(interval)

    # -- settling jobs ------------------------------------------------------------------------

    def complete(self, job_ids: Sequence[str]) -> int:
        """Settle finished jobs; returns how many were still this worker's."""
        return int(self._settle_lane.run(self._complete, self._complete_keys, job_ids))

    def retry(self, job_id: str, when: float) -> int:
        """Move a failed job to the delayed set, due at ``when``."""
        return self._settle_failure(job_id, "retry", when, "")

    def bury(self, job_id: str, when: float, error: dict) -> int:
        """Move a failed job to the dead set with its error record."""
        return self._settle_failure(job_id, "dead", when, json.dumps(error))

    def _settle_failure(self, job_id: str, action: str, when: float, error: str) -> int:
        keys = [self.key, self.keys.delayed, self.keys.attempts, self.keys.dead, self.keys.dead_errors]
        return int(self._settle_lane.run(self._fail, keys, (job_id, action, repr(when), error, self.keys.wakeup)))

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

    def close(self) -> None:
        """Give the connections of the fetch and settle loops back to the client's pool."""
        self._fetch_lane.close()
        self._settle_lane.close()

    def ids(self) -> List[str]:
        """Every id in this pending list, newest first."""
        return [text(i) for i in self.client.lrange(self.key, 0, -1)]

    def size(self) -> int:
        return self.client.llen(self.key)


class WorkerRegistry:
    """Live workers of a queue, their heartbeats, and recovery of the ones that stopped."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._heartbeat = scripts.register(client, "heartbeat")
        self._recover = scripts.register(client, "recover")

    def beat(self, worker_id: str, now: float, info: dict) -> bool:
        """Record a heartbeat. True when the worker was not registered before this beat."""
        keys = [self.keys.workers, self.keys.workers_info]
        return bool(self._heartbeat(keys=keys, args=[worker_id, repr(now), json.dumps(info)]))

    def stale(self, before: float, limit: int = 16) -> List[str]:
        """Workers whose last beat is older than ``before``, oldest first."""
        ids = self.client.zrangebyscore(self.keys.workers, "-inf", f"({before!r}", 0, limit)
        return [text(i) for i in ids]

    def recover(
        self, worker_id: str, before: float, max_attempts: int, now: float, error: dict
    ) -> Optional[Tuple[int, int]]:
        """Requeue the jobs of ``worker_id`` if its last beat is older than ``before``.

        Jobs that have used ``max_attempts`` (0 = unlimited) go to the dead set with ``error``.
        Returns ``(requeued, buried)``, or None when the worker turned out to be alive.
        """
        keys = [
            self.keys.workers,
            self.keys.workers_info,
            self.keys.pending(worker_id),
            self.keys.ready,
            self.keys.attempts,
            self.keys.dead,
            self.keys.dead_errors,
        ]
        args = [worker_id, repr(before), max_attempts, MOVE_BATCH, repr(now), json.dumps(error)]
        requeued = buried = 0
        while True:
            moved, dead, done = self._recover(keys=keys, args=args)
            if moved < 0:
                return None
            requeued += moved
            buried += dead
            if done:
                return requeued, buried

    def workers(self) -> List[dict]:
        """Every registered worker: its id, last beat, and the info it published."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zrange(self.keys.workers, 0, -1, withscores=True)
        pipe.hgetall(self.keys.workers_info)
        beats, infos = pipe.execute()
        infos = {text(k): v for k, v in infos.items()}
        result = []
        for member, score in beats:
            worker_id = text(member)
            info = json.loads(infos[worker_id]) if worker_id in infos else {}
            result.append(dict(info, id=worker_id, last_beat=float(score)))
        return result
