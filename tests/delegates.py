"""Delegates for worker processes started by the tests (``gjobs-worker tests.delegates:record``)."""

import gc
import os

import gevent
import redis

_client = None


def _redis():
    global _client
    if _client is None:
        _client = redis.Redis.from_url(os.environ["REDIS_URL"])
    return _client


def record(job):
    """Note the job's ``n`` under ``job["key"]``: in ``:started`` (a list, once per run) when it
    starts and in ``:done`` (a set) when it finishes, after sleeping ``job["sleep"]`` seconds."""
    client = _redis()
    client.rpush(f"{job['key']}:started", job["n"])
    gevent.sleep(job.get("sleep", 0.1))
    client.sadd(f"{job['key']}:done", job["n"])


def note_collector(job):
    """Note under ``job["key"]`` how many objects the garbage collector has set aside for good,
    and its young generation's threshold."""
    _redis().hset(job["key"], mapping={"frozen": gc.get_freeze_count(), "young": gc.get_threshold()[0]})
