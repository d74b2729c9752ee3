"""The counts of a queue, for ``Queue.stats()``, ``gjobs stats`` and the status line."""

from __future__ import annotations

from typing import Any, Dict

from .keys import Keys
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
