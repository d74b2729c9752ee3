"""The registry of live workers: their heartbeats, what they published about themselves, and the
recovery of the pending lists of those that stopped beating.

A sorted set scores each worker by its last beat and a hash keeps its JSON info. Recovery reads
only the registry, never the keyspace, so it costs nothing when every worker is alive and works
unchanged on Redis Cluster.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Tuple

from . import scripts
from .counts import BUCKET_TTL, minute_of
from .keys import Keys, text

#: Ids moved per recover call.
MOVE_BATCH = 500


class WorkerRegistry:
    """Live workers of a queue, their heartbeats, and recovery of the ones that stopped."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._heartbeat = scripts.register(client, "heartbeat")
        self._stale = scripts.register(client, "stale")
        self._recover = scripts.register(client, "recover")

    def beat(self, worker_id: str, now: Optional[float], info: Dict[str, Any]) -> bool:
        """Record a heartbeat at ``now`` (Redis's now when None). True when the worker was not
        registered before this beat."""
        keys = [self.keys.workers, self.keys.workers_info]
        when = "" if now is None else repr(now)
        return bool(self._heartbeat(keys=keys, args=[worker_id, when, json.dumps(info)]))

    def stale(self, silence: float, limit: int = 16, now: Optional[float] = None) -> Tuple[float, List[str]]:
        """Workers silent for more than ``silence`` seconds at ``now`` (Redis's now when None),
        oldest first, and the time they were judged at."""
        at, ids = self._stale(keys=[self.keys.workers], args=[repr(silence), limit, "" if now is None else repr(now)])
        return float(at), [text(i) for i in ids]

    def recover(
        self, worker_id: str, before: float, max_attempts: int, now: float, error: Dict[str, Any]
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
            self.keys.buried,
            self.keys.minute(minute_of(now)),
            self.keys.progress,
            self.keys.unique,
            self.keys.unique_of,
        ]
        args = [worker_id, repr(before), max_attempts, MOVE_BATCH, repr(now), json.dumps(error), BUCKET_TTL]
        requeued = buried = 0
        while True:
            moved, dead, done = self._recover(keys=keys, args=args)
            if moved < 0:
                return None
            requeued += moved
            buried += dead
            if done:
                return requeued, buried

    def workers(self) -> List[Dict[str, Any]]:
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
