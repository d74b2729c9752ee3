"""Job ids: made by the producer, sortable by when they were made."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Optional


def new_id() -> str:
    """A fresh job id: 32 hex digits, the first 12 the producer's clock in milliseconds (so ids
    sort by creation, and ``queue.job(id)`` tells when a job was enqueued), the other 20 from the
    OS's random source."""
    return f"{int(time.time() * 1000) & 0xFFFFFFFFFFFF:012x}{os.urandom(10).hex()}"


def tick_id(schedule: str, tick: float) -> str:
    """The id of the job of ``schedule``'s tick at ``tick``: shaped as :func:`new_id`, with the
    tick's time first (so a periodic job reads as enqueued at its tick) and a digest of the
    schedule's name after. One tick of one schedule has one id, whoever fires it."""
    return f"{int(round(tick * 1000)) & 0xFFFFFFFFFFFF:012x}{hashlib.sha1(schedule.encode()).hexdigest()[:20]}"


def tick_of(job_id: str) -> float:
    """The time in a job id made by :func:`new_id` or :func:`tick_id`, epoch seconds."""
    return int(job_id[:12], 16) / 1000


def enqueued_at(job_id: str, remembered: Optional[float]) -> Optional[float]:
    """When a job was enqueued: a caller's id is remembered with the time (``remembered``); an id
    gjobs made starts with that time (:func:`tick_of`); None for any other id."""
    if remembered is not None:
        return float(remembered)
    if len(job_id) == 32:
        try:
            return tick_of(job_id)
        except ValueError:
            return None
    return None
