"""How ``gjobs`` shows things: tables, ages, times, jobs and errors, for people or as JSON."""

from __future__ import annotations

import json
import time
from typing import Any, List, Optional, Sequence, TextIO

from gjobs.format import format_count, format_status
from gjobs.queue import Queue

#: Characters of an error message or a job shown in one table cell.
CELL = 60


def render_stats(stats: Sequence[dict], now: float) -> str:
    lines = []
    for queue in stats:
        lines.append(
            f"{queue['prefix']}  "
            f"{format_status(queue['ready'], queue['delayed'], queue['in_progress'], queue['completed'])}  "
            f"dead={format_count(queue['dead'])}  workers={len(queue['workers'])}"
        )
        for worker in queue["workers"]:
            started = worker.get("started_at")
            lines.append(
                f"  {worker['id']}  P={worker.get('pending', 0)}/{worker.get('concurrency', '?')}  "
                f"up {age(now - started) if started else '?'}  last beat {age(now - worker['last_beat'])} ago"
            )
    return "\n".join(lines) + "\n"



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


def error_line(error: dict) -> str:
    if not error:
        return "?"
    return f"{error.get('type', '?')}: {error.get('message', '')}"


def job_text(job: Any) -> str:
    if isinstance(job, bytes):
        return repr(job)  # undecodable: shown as the raw bytes
    if job is None:
        return "(payload gone)"
    return json.dumps(job, ensure_ascii=False, separators=(", ", ": "), default=str)


def decode(queue: Queue, payload: Optional[bytes]) -> Any:
    if payload is None:
        return None
    try:
        return queue.coder.load(payload)
    except Exception:
        return payload  # undecodable, which is likely why it died: shown as raw bytes


def dead_json(entry: Any) -> dict:
    job = entry.job.decode("utf-8", "replace") if isinstance(entry.job, bytes) else entry.job
    return {"id": entry.id, "job": job, "attempts": entry.attempts, "error": entry.error,
            "failed_at": entry.failed_at}


def print_json(out: TextIO, value: Any) -> None:
    out.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
