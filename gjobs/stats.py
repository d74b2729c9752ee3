"""The counts of a queue, for ``Queue.stats()``, ``gjobs stats`` and the status line."""

from __future__ import annotations

import math
from typing import Any, Dict, Optional

from .ids import enqueued_at
from .keys import Keys, text
from .worker_registry import WorkerRegistry


def queue_stats(client: Any, keys: Keys, registry: WorkerRegistry) -> Dict[str, Any]:
    """Counts for the whole queue (ready, delayed, in progress, completed, dead, missing,
    cancelled, expired, paused, schedules declared) and the live workers with their jobs in flight, in two round
    trips."""
    workers = registry.workers()
    pipe = client.pipeline(transaction=False)
    pipe.llen(keys.ready)
    pipe.zcard(keys.delayed)
    pipe.get(keys.completed)
    pipe.zcard(keys.dead)
    pipe.get(keys.missing)
    pipe.get(keys.cancelled)
    pipe.get(keys.expired)
    pipe.exists(keys.paused)
    pipe.zcard(keys.cron_leases)
    for worker in workers:
        pipe.llen(keys.pending(worker["id"]))
    ready, delayed, completed, dead, missing, cancelled, expired, paused, schedules, *pending = pipe.execute()
    for worker, count in zip(workers, pending):
        worker["pending"] = count
    return {
        "prefix": keys.prefix,
        "ready": ready,
        "delayed": delayed,
        "in_progress": sum(pending),
        "completed": int(completed or 0),
        "dead": dead,
        "missing": int(missing or 0),
        "cancelled": int(cancelled or 0),
        "expired": int(expired or 0),
        "paused": bool(paused),
        "schedules": schedules,
        "workers": workers,
    }


def oldest_ready_since(client: Any, keys: Keys) -> Optional[float]:
    """When the next job to run was enqueued (epoch seconds): None when nothing is ready, NaN
    when its id does not say (an id the caller gave, no longer remembered)."""
    oldest = client.lindex(keys.ready, -1)
    if oldest is None:
        return None
    job_id = text(oldest)
    since = enqueued_at(job_id, client.zscore(keys.ids, job_id))
    return math.nan if since is None else since
