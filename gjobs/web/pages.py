"""What each dashboard page shows, read from Redis: plain data for the templates.

Every read is paged or bounded: a page costs a few round trips whatever the size of the queue
(counts are LLEN/ZCARD, listings one range read and one payload read of a page). The same read
layer serves ``gjobs stats``, ``gjobs job show`` and the Prometheus collector, so the dashboard
shows what they show.
"""

from __future__ import annotations

import math
from typing import Any, Dict, List, Optional

import gjobs.web.chart as chart

from .. import counts
from ..cli.show import age, error_line, job_text, progress_line, when
from ..ids import enqueued_at
from ..keys import QUEUES, VALID_PREFIX, text
from ..queue import Queue
from ..stats import oldest_ready_since

#: Jobs per page of a listing.
PAGE = 20


def queue_names(client: Any, prefixes: Optional[List[str]]) -> List[str]:
    """The queues shown: those given, else every queue a worker has started on."""
    if prefixes is not None:
        return list(prefixes)
    # A name no queue can have (written by hand into the set) is not a queue: leave it out.
    return sorted(name for name in map(text, client.smembers(QUEUES)) if VALID_PREFIX.match(name))


def summary(queue: Queue, now: float) -> Dict[str, Any]:
    """A queue's counts: what the overview's row and the queue page's header show."""
    stats = queue.stats()
    done = counts.totals(queue.client, queue.keys)
    return {
        "name": queue.prefix, "ready": stats["ready"], "delayed": stats["delayed"], "running": stats["in_progress"],
        "dead": stats["dead"], "workers": len(stats["workers"]), "paused": stats["paused"],
        "succeeded": done["succeeded"], "failed": done["failed"], "oldest": oldest_ready(queue, now),
        "cancelled": stats["cancelled"], "expired": stats["expired"],
    }


def oldest_ready(queue: Queue, now: float) -> str:
    """How long the next job to run has waited, for people ("" when none is ready)."""
    since = oldest_ready_since(queue.client, queue.keys)
    return "" if since is None else "?" if math.isnan(since) else age(now - since)


def history(queues: List[Queue], now: float) -> chart.Chart:
    """The throughput chart of the last hour, over ``queues``."""
    return chart.chart(chart.merge(counts.history(q.client, q.keys, 60, now) for q in queues))


def workers(queues: List[Queue], now: float) -> List[Dict[str, Any]]:
    """Every live worker once, with the queues it works and its jobs in flight over them."""
    found: Dict[str, Dict[str, Any]] = {}
    for queue in queues:
        for worker in queue.stats()["workers"]:
            row = found.setdefault(worker["id"], {
                "id": worker["id"], "host": worker.get("host", "?"), "pid": worker.get("pid", "?"),
                "concurrency": worker.get("concurrency", "?"), "queues": [], "running": 0,
                "up": age(now - worker["started_at"]) if worker.get("started_at") else "?",
                "beat": age(now - worker["last_beat"]),
            })
            row["queues"].append(queue.prefix)
            row["running"] += worker.get("pending", 0)
    return sorted(found.values(), key=lambda row: (row["host"], str(row["pid"]), row["id"]))


def listing(queue: Queue, part: str, offset: int, now: float) -> Dict[str, Any]:
    """One page of the ready or delayed jobs, with what the pager needs."""
    read = queue.control.ready if part == "ready" else queue.control.delayed
    total = queue.client.llen(queue.keys.ready) if part == "ready" else queue.client.zcard(queue.keys.delayed)
    rows = []
    for entry in read(PAGE, offset):
        row = describe(entry.id, entry.job)
        # A cancelled (deleted) ready job keeps its place until a worker reaches it and drops it.
        row["gone"] = entry.job is None
        if entry.due_at is not None:
            row["due"] = describe_time(entry.due_at, now)
        else:
            since = enqueued_at(entry.id, None)
            row["enqueued"] = describe_time(since, now) if since is not None else ""
        rows.append(row)
    return pager(rows, offset, total)


def dead(queue: Queue, offset: int, now: float) -> Dict[str, Any]:
    """One page of the dead set, most recent first."""
    rows = []
    for entry in queue.dead(PAGE, offset):
        row = describe(entry.id, entry.job)
        row.update(attempts=entry.attempts, died=describe_time(entry.failed_at, now), error=error_line(entry.error))
        rows.append(row)
    return pager(rows, offset, queue.dead_set.size())


def pager(rows: List[Dict[str, Any]], offset: int, total: int) -> Dict[str, Any]:
    return {"rows": rows, "offset": offset, "total": total, "first": offset + 1 if rows else 0,
            "last": offset + len(rows), "next": offset + PAGE if offset + PAGE < total else None,
            "prev": max(0, offset - PAGE) if offset > 0 else None}


def describe(job_id: str, job: Any) -> Dict[str, Any]:
    """A job as a row shows it: its task and arguments when it is a task's, else the whole job."""
    if isinstance(job, dict) and isinstance(job.get("task"), str):
        shown = {"args": job.get("args", []), "kwargs": job.get("kwargs", {})}
        return {"id": job_id, "task": job["task"], "args": job_text(shown)}
    return {"id": job_id, "task": "", "args": job_text(job)}


def describe_time(moment: float, now: float) -> Dict[str, str]:
    """A time as the pages show it: its age or how far off, with the full time on hover."""
    words = f"in {age(moment - now)}" if moment > now else f"{age(now - moment)} ago"
    return {"words": words, "iso": when(moment)}


def job(queue: Queue, job_id: str, now: float) -> Dict[str, Any]:
    """One job, whatever its state (see :mod:`gjobs.lookup`)."""
    info = queue.job(job_id)
    fields = []
    for label, value in (
        ("task", info.task), ("attempts", str(info.attempts)),
        ("enqueued", info.enqueued_at), ("due", info.due_at),
        ("position", None if info.position is None else str(info.position)),
        ("worker", info.worker or (info.error or {}).get("worker")),
        ("started", info.started_at), ("died" if info.state == "dead" else "finished", info.finished_at),
        ("ran-for", None if info.ran_for is None else age(info.ran_for)),
        ("progress", progress_line(info.progress, now) if info.progress else None),
        ("result", "kept" if info.result_kept else None),
    ):
        if value is None:
            continue
        shown = describe_time(value, now) if isinstance(value, float) else {"words": value, "iso": ""}
        fields.append({"name": label, **shown})
    error = info.error or {}
    return {
        "id": job_id, "state": info.state, "fields": fields,
        "payload": None if info.job is None else job_text(info.job),
        "error": error_line(error) if info.error else None,
        "traceback": error.get("traceback") or None,
        "cancellable": info.state in ("delayed", "ready", "running", "retrying"),
    }


def schedules(queues: List[Queue], now: float) -> List[Dict[str, Any]]:
    """Every schedule running workers declare, over ``queues``."""
    rows = []
    for queue in queues:
        for info in queue.schedules.list(now):
            rows.append({
                "queue": queue.prefix, "name": info.name, "task": info.task or "",
                "when": info.cron if info.cron else f"every {info.every:g} s" if info.every else "",
                "tz": info.tz or "", "paused": info.paused,
                "next": describe_time(info.next_at, now) if info.next_at else None,
                "last": describe_time(info.last_at, now) if info.last_at else None,
                "last_job": info.last_job, "last_state": info.last_state or "",
            })
    return rows
