"""Counts in Redis (totals and per-minute buckets) and the Prometheus collector, its text format
parsed back with prometheus_client's own parser."""

import math
import time

import gevent
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gjobs import counts
from gjobs.metrics import GJobsCollector
from gjobs.processing_list import ProcessingList
from gjobs.worker_registry import WorkerRegistry

from .helpers import wait_for


def scrape(client, prefix):
    """``{(name, queue): value}`` of one scrape, as Prometheus would read it."""
    registry = CollectorRegistry()
    registry.register(GJobsCollector(client, [prefix]))
    found = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            labels = sample.labels
            found[(sample.name, labels["queue"], *[labels[k] for k in ("task", "le") if k in labels])] = sample.value
    return found


def fail_on_odd(job):
    if job["n"] % 2:
        raise RuntimeError("odd")


def test_counters_count_successes_retries_and_the_dead(make_server, queue, client, prefix):
    make_server(fail_on_odd, max_attempts=2, backoff=lambda attempt: 0.01).start()
    queue.enqueue_many([{"n": n} for n in range(6)])
    wait_for(lambda: len(queue.dead()) == 3 and queue.completed_count() == 3)
    metrics = scrape(client, prefix)
    assert metrics[("gjobs_succeeded_total", prefix)] == 3
    assert metrics[("gjobs_retried_total", prefix)] == 3
    assert metrics[("gjobs_dead_total", prefix)] == 3
    assert metrics[("gjobs_failed_total", prefix)] == 6
    assert metrics[("gjobs_dead_jobs", prefix)] == 3


def test_gauges_show_the_queue_as_it_stands(queue, client, prefix):
    queue.enqueue({"n": 1})
    queue.enqueue_in({"n": 2}, 60)
    queue.pause()
    WorkerRegistry(client, queue.keys).beat("w1", None, {})
    metrics = scrape(client, prefix)
    assert [metrics[(f"gjobs_{name}", prefix)] for name in ("ready", "delayed", "running", "workers", "paused")] == [
        1, 1, 0, 1, 1]


def test_the_oldest_ready_job_tells_how_long_it_has_waited(queue, client, prefix):
    queue.enqueue({"n": 1})
    time.sleep(0.3)  # the age is the point: it must have grown
    assert 0.25 <= scrape(client, prefix)[("gjobs_oldest_ready_age_seconds", prefix)] < 5


def test_a_next_job_whose_id_does_not_say_when_it_came_has_waited_an_unknown_time(queue, client, prefix):
    client.lpush(queue.keys.ready, "order-42")  # a caller's id, no longer remembered in {prefix}:ids
    assert math.isnan(scrape(client, prefix)[("gjobs_oldest_ready_age_seconds", prefix)])


def test_an_empty_queue_has_waited_zero_seconds(client, prefix):
    assert scrape(client, prefix)[("gjobs_oldest_ready_age_seconds", prefix)] == 0


def test_each_minute_counts_what_it_saw_and_expires_by_itself(make_server, queue, client, prefix):
    make_server(fail_on_odd, max_attempts=1).start()
    queue.enqueue_many([{"n": n} for n in range(4)])
    wait_for(lambda: len(queue.dead()) == 2 and queue.completed_count() == 2)
    rows = counts.history(client, queue.keys, minutes=2)
    assert sum(row["succeeded"] for row in rows) == 2 and sum(row["dead"] for row in rows) == 2
    now_row = rows[-1] if rows[-1]["succeeded"] else rows[-2]
    ttl = client.ttl(queue.keys.minute(now_row["minute"] // 60))
    assert 0 < ttl <= counts.BUCKET_TTL


def test_two_workers_are_counted_once_each_job(make_server, servers, queue, client, prefix):
    make_server(lambda job: None).start()
    servers(lambda job: None, client, prefix).start()
    queue.enqueue_many([{"n": n} for n in range(200)])
    wait_for(lambda: queue.completed_count() == 200)
    assert scrape(client, prefix)[("gjobs_succeeded_total", prefix)] == 200
    assert sum(row["succeeded"] for row in counts.history(client, queue.keys, minutes=2)) == 200


def test_every_known_queue_is_collected_by_default(make_server, client, prefix):
    make_server(lambda job: None).start()  # a started worker makes its queue known
    registry = CollectorRegistry()
    registry.register(GJobsCollector(client))
    assert f'gjobs_ready{{queue="{prefix}"}}' in generate_latest(registry).decode()


def test_jobs_of_a_lost_worker_that_go_to_the_dead_set_are_counted(queue, client):
    queue.enqueue({"n": 1})
    registry = WorkerRegistry(client, queue.keys)
    registry.beat("lost", 1.0, {})  # its last beat, long ago
    ProcessingList(client, queue.keys, "lost").fetch(1)  # its first attempt, spent
    registry.recover("lost", time.time(), 1, time.time(), {"type": "WorkerLost", "message": "gone"})
    assert counts.totals(client, queue.keys) == {"succeeded": 0, "retried": 0, "dead": 1, "failed": 1}


def test_run_times_are_a_histogram_per_task_added_with_each_heartbeat(make_server, queue, client, prefix):
    make_server(lambda job: gevent.sleep(job["pause"])).start()  # heartbeat every 0.5 s
    queue.enqueue_many([{"task": "app:quick", "pause": 0} for _ in range(3)] + [{"task": "app:slow", "pause": 0.3}])
    wait_for(lambda: scrape(client, prefix).get(("gjobs_job_run_seconds_count", prefix, "app:slow")) == 1,
             message="the next heartbeat to add the run times")
    metrics = scrape(client, prefix)
    assert metrics[("gjobs_job_run_seconds_count", prefix, "app:quick")] == 3
    assert metrics[("gjobs_job_run_seconds_bucket", prefix, "app:quick", "0.005")] == 3
    assert metrics[("gjobs_job_run_seconds_bucket", prefix, "app:slow", "0.25")] == 0
    assert metrics[("gjobs_job_run_seconds_bucket", prefix, "app:slow", "0.5")] == 1
    assert 0.3 <= metrics[("gjobs_job_run_seconds_sum", prefix, "app:slow")] < 1


def test_run_times_cost_a_job_no_redis_call(queue, client):
    from gjobs.run_times import RunTimes, read

    counted = RunTimes()
    for seconds in (0.001, 0.02, 30):
        counted.add({"task": "app:x"}, seconds)
    assert client.exists(queue.keys.runtimes) == 0  # nothing written until the flush
    assert counted.flush(client, queue.keys) == 3
    buckets, total = read(client, queue.keys)["app:x"]
    assert (buckets[0], buckets[2], buckets[-1], round(total, 3)) == (1, 1, 1, 30.021)


def test_the_exposition_parses_as_openmetrics_too(make_server, queue, client, prefix):
    from prometheus_client.openmetrics.exposition import generate_latest as openmetrics
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as parse

    make_server(lambda job: None).start()
    queue.enqueue({"task": "app:x"})
    wait_for(lambda: queue.completed_count() == 1)
    registry = CollectorRegistry()
    registry.register(GJobsCollector(client, [prefix]))
    names = {family.name for family in parse(openmetrics(registry).decode())}
    assert {"gjobs_dead_jobs", "gjobs_dead", "gjobs_succeeded"} <= names


def test_a_stopping_worker_adds_the_run_times_it_counted_since_its_last_beat(servers, queue, client, prefix):
    worker = servers(lambda job: None, client, prefix, heartbeat_interval=30)
    worker.start()
    queue.enqueue({"task": "app:once"})
    wait_for(lambda: queue.completed_count() == 1)
    worker.stop()
    assert scrape(client, prefix)[("gjobs_job_run_seconds_count", prefix, "app:once")] == 1
