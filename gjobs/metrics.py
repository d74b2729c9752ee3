"""Prometheus metrics of gjobs queues, read from Redis: one exporter covers every worker.

    from prometheus_client import CollectorRegistry, start_http_server
    from gjobs.metrics import GJobsCollector

    registry = CollectorRegistry()
    registry.register(GJobsCollector(redis.Redis.from_url(url)))     # every known queue
    start_http_server(9187, registry=registry)                       # or make_wsgi_app(registry)

Per queue (label ``queue``), gauges: ``gjobs_ready``, ``gjobs_delayed``, ``gjobs_running``,
``gjobs_dead_jobs``, ``gjobs_workers``, ``gjobs_paused`` and ``gjobs_oldest_ready_age_seconds``; and
counters, which only grow (see :mod:`gjobs.counts`): ``gjobs_succeeded_total``,
``gjobs_retried_total``, ``gjobs_dead_total`` (jobs that went to the dead set) and
``gjobs_failed_total`` (attempts that failed: retried or dead); and per task the histogram
``gjobs_job_run_seconds`` (see :mod:`gjobs.run_times`). Because they come from Redis,
scraping any number of exporters gives the same figures, and no worker is counted twice.
Needs ``prometheus_client`` (``pip install 'gjobs[metrics]'``).
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Iterator, List, Optional

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from . import run_times
from .clock import redis_now
from .counts import totals
from .keys import QUEUES, Keys, text
from .stats import oldest_ready_since, queue_stats
from .worker_registry import WorkerRegistry

_GAUGES = (
    ("ready", "Jobs waiting their turn."),
    ("delayed", "Jobs due later (and failed jobs waiting for their retry)."),
    ("running", "Jobs taken by workers and not yet settled."),
    ("dead_jobs", "Jobs in the dead set."),
    ("workers", "Workers heartbeating on the queue."),
    ("paused", "1 while the queue is paused."),
    ("oldest_ready_age_seconds", "How long the next job to run has waited since it was enqueued."),
)
_COUNTERS = (
    ("succeeded", "Jobs that succeeded."),
    ("retried", "Failed attempts that were retried."),
    ("dead", "Jobs that went to the dead set."),
    ("failed", "Failed attempts: retried or dead."),
)


class GJobsCollector(Collector):
    """Collects the metrics of ``prefixes`` (by default every queue a worker has started on)
    through ``client`` at each scrape."""

    def __init__(self, client: Any, prefixes: Optional[Iterable[str]] = None) -> None:
        self.client = client
        self.prefixes = None if prefixes is None else list(prefixes)

    def queues(self) -> List[str]:
        if self.prefixes is not None:
            return self.prefixes
        return sorted(text(name) for name in self.client.smembers(QUEUES))

    def collect(self) -> Iterator[Metric]:
        gauges = {name: GaugeMetricFamily(f"gjobs_{name}", doc, labels=["queue"]) for name, doc in _GAUGES}
        counters = {name: CounterMetricFamily(f"gjobs_{name}", doc, labels=["queue"]) for name, doc in _COUNTERS}
        runs = HistogramMetricFamily("gjobs_job_run_seconds", "How long jobs ran, per task (failed runs included).",
                                     labels=["queue", "task"])
        now = redis_now(self.client)
        for prefix in self.queues():
            keys = Keys(prefix)
            stats = queue_stats(self.client, keys, WorkerRegistry(self.client, keys))
            values = {"ready": stats["ready"], "delayed": stats["delayed"], "running": stats["in_progress"],
                      "dead_jobs": stats["dead"], "workers": len(stats["workers"]), "paused": int(stats["paused"]),
                      "oldest_ready_age_seconds": _age(oldest_ready_since(self.client, keys), now)}
            for name, value in values.items():
                gauges[name].add_metric([prefix], value)
            for name, value in totals(self.client, keys).items():
                counters[name].add_metric([prefix], value)
            for task, (buckets, total) in sorted(run_times.read(self.client, keys).items()):
                cumulative, running = [], 0
                for bound, count in zip([*map(str, run_times.BOUNDS), "+Inf"], buckets):
                    running += count
                    cumulative.append((bound, running))
                runs.add_metric([prefix, task], cumulative, total)
        yield from gauges.values()
        yield from counters.values()
        yield runs


def _age(since: Optional[float], now: float) -> float:
    """Seconds the next job to run has waited: 0 with none ready, NaN when unknown."""
    if since is None:
        return 0.0
    return math.nan if math.isnan(since) else max(0.0, now - since)
