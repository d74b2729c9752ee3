"""How ``gjobs`` shows things: tables, ages, times, jobs and errors, for people or as JSON."""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List, Optional, Sequence, TextIO

from gjobs.format import format_count, format_status
from gjobs.lookup import POSITION_LIMIT

#: Characters of an error message or a job shown in one table cell.
CELL = 60
#: Characters of a ``label:`` before its value in ``gjobs job show``, as in ``gjobs dead show``.
LABEL = 11


def render_stats(stats: Sequence[Dict[str, Any]], now: float) -> str:
    lines = []
    for queue in stats:
        lines.append(
            f"{queue['prefix']}  "
            f"{format_status(queue['ready'], queue['delayed'], queue['in_progress'], queue['completed'])}  "
            f"dead={format_count(queue['dead'])}  workers={len(queue['workers'])}"
            + ("  PAUSED" if queue.get("paused") else "")
        )
        for worker in queue["workers"]:
            started = worker.get("started_at")
            lines.append(
                f"  {worker['id']}  P={worker.get('pending', 0)}/{worker.get('concurrency', '?')}  "
                f"up {age(now - started) if started else '?'}  last beat {age(now - worker['last_beat'])} ago"
            )
    return "\n".join(lines) + "\n"


def render_job(info: Any, now: float) -> str:
    """One job (a :class:`gjobs.lookup.JobInfo`) as ``label: value`` lines, the times with their
    age, a dead job's traceback last."""
    error = info.error or {}
    progress = info.progress or {}
    fields = [
        ("id", info.id),
        ("state", info.state),
        ("task", info.task),
        ("args", None if info.args is None else job_text(info.args)),
        ("kwargs", None if info.kwargs is None else job_text(info.kwargs)),
        ("job", None if info.task is not None or info.job is None else job_text(info.job)),
        ("attempts", str(info.attempts)),
        ("enqueued", moment(info.enqueued_at, now)),
        ("due", moment(info.due_at, now)),
        ("position", _position(info)),
        ("worker", info.worker or error.get("worker")),
        ("started", moment(info.started_at, now) if info.started_at or info.state != "running" else "moments ago"),
        ("died" if info.state == "dead" else "finished", moment(info.finished_at, now)),
        ("ran for", None if info.ran_for is None else age(info.ran_for)),
        ("progress", progress_line(progress, now) if progress else None),
        ("error", error_line(error) if info.error else None),
        ("result", "kept" if info.result_kept else None),
    ]
    shown = [(label, value) for label, value in fields if value is not None]
    lines = [f"{label + ':':<{LABEL}}{value}" for label, value in shown]
    if error.get("traceback"):
        lines += ["traceback:", error["traceback"].rstrip("\n")]
    return "\n".join(lines) + "\n"


def moment(epoch: Optional[float], now: float) -> Optional[str]:
    """``2024-05-01 12:00:00 UTC (5m12s ago)``, or ``(in 5m12s)`` for a time to come."""
    if epoch is None:
        return None
    return f"{when(epoch)} ({age(now - epoch)} ago)" if epoch <= now else f"{when(epoch)} (in {age(epoch - now)})"


def due_in(due: Optional[float], now: float) -> str:
    """How long until a delayed job is due: ``5m12s``, or ``now`` once it is."""
    if due is None:
        return "?"
    return age(due - now) if due > now else "now"


def _position(info: Any) -> Optional[str]:
    if info.state != "ready":
        return None
    if info.position is None:
        return f"behind the next {POSITION_LIMIT} to run"
    return "next to run" if info.position == 0 else f"{info.position} jobs ahead of it"


def progress_line(progress: Dict[str, Any], now: float) -> str:
    """A running job's progress: share done, note, and how long ago it was reported."""
    done = progress.get("done")
    parts = [f"{done * 100:.0f}%" if isinstance(done, (int, float)) else "?"]
    if progress.get("note"):
        parts.append(str(progress["note"]))
    if isinstance(progress.get("at"), (int, float)):
        parts.append(f"(reported {age(now - progress['at'])} ago)")
    return " ".join(parts)


def table(headers: List[str], rows: List[List[str]]) -> str:
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() + "\n" for row in [headers, *rows]
    )


def age(seconds: float) -> str:
    """``0.4s``, ``42s``, ``5m12s``, ``3h04m``, ``2d05h``."""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"


def when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(epoch))


def cut(text: str, width: int = CELL) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 3] + "..."


def error_line(error: Dict[str, Any]) -> str:
    if not error:
        return "?"
    return f"{error.get('type', '?')}: {error.get('message', '')}"


def job_text(job: Any) -> str:
    if isinstance(job, bytes):
        return repr(job)  # undecodable: shown as the raw bytes
    if job is None:
        return "(payload gone)"
    return json.dumps(job, ensure_ascii=False, separators=(", ", ": "), default=str)


def dead_json(entry: Any) -> Dict[str, Any]:
    job = entry.job.decode("utf-8", "replace") if isinstance(entry.job, bytes) else entry.job
    return {"id": entry.id, "job": job, "attempts": entry.attempts, "error": entry.error,
            "failed_at": entry.failed_at}


def listed_json(entry: Any, delayed: bool) -> Dict[str, Any]:
    """One job of a ready or delayed listing (a :class:`gjobs.control.Listed`), for ``--json``."""
    job = entry.job.decode("utf-8", "replace") if isinstance(entry.job, bytes) else entry.job
    shown = {"id": entry.id, "job": job}
    if delayed:
        shown["due_at"] = entry.due_at
    return shown


def print_json(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")


def answer(out: TextIO, as_json: bool, value: Any, said: str) -> None:
    """What a command did: ``value`` as JSON with ``--json``, else ``said`` (lines for people)."""
    if as_json:
        print_json(out, value)
    else:
        out.write(said)
