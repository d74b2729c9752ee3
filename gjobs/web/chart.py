"""The throughput chart: jobs that succeeded and failed per minute over the last hour, as an SVG
drawn on the server (no script, no library to ship, and nothing for the CSP to allow)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, Iterable, List

#: The chart's size in SVG units; the stylesheet scales it to the page's width.
WIDTH = 1200
HEIGHT = 160
#: Room at the bottom for the time labels.
AXIS = 18


@dataclass
class Bar:
    minute: int
    kind: str
    count: int
    x: float
    y: float
    width: float
    height: float
    title: str


@dataclass
class Chart:
    bars: List[Bar]
    labels: List[Dict[str, object]]
    peak: int
    succeeded: int
    failed: int
    width: int = WIDTH
    height: int = HEIGHT


def merge(histories: Iterable[List[Dict[str, int]]]) -> List[Dict[str, int]]:
    """Several queues' histories (:func:`gjobs.counts.history`, aligned on the same minutes) added up."""
    total: List[Dict[str, int]] = []
    for history in histories:
        if not total:
            total = [dict(row) for row in history]
            continue
        for row, other in zip(total, history):
            for field in ("succeeded", "retried", "dead"):
                row[field] += other[field]
    return total


def chart(history: List[Dict[str, int]]) -> Chart:
    """Stacked bars, one pair per minute of ``history``: succeeded below, failed (retried or
    dead) above, scaled to the busiest minute."""
    rows = [(row["minute"], row["succeeded"], row["retried"] + row["dead"]) for row in history]
    peak = max((ok + failed for _, ok, failed in rows), default=0)
    slot = WIDTH / max(1, len(rows))
    scale = (HEIGHT - AXIS) / peak if peak else 0.0
    bars, labels = [], []
    for index, (minute, ok, failed) in enumerate(rows):
        x = index * slot + 1
        clock = time.strftime("%H:%M", time.localtime(minute))
        base: float = HEIGHT - AXIS
        for kind, count in (("succeeded", ok), ("failed", failed)):
            height = count * scale
            bars.append(Bar(minute, kind, count, x, base - height, slot - 2, height, f"{clock}: {count} {kind}"))
            base -= height
        if index % 10 == 0:
            labels.append({"x": x, "text": clock})
    return Chart(bars, labels, peak, sum(r[1] for r in rows), sum(r[2] for r in rows))
