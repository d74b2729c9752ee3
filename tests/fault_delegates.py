"""Delegates run by real ``gjobs-worker`` processes in the reliability tests, and a handle on
such a process.

A delegate here records what it did in Redis (the worker's own Redis, from ``$REDIS_URL``) so
the test process can count runs, starts and attempts without sharing memory with the worker.
Every key it writes is named by the job itself (``"record"``, ``"started"``, ``"attempts"``), so
each test chooses keys under its own random prefix. The delegates retry their own Redis writes
through cut connections and restarts, as a careful job would, so that a failure the tests see is
the worker's, never the test delegate's.
"""

import os
import signal
import subprocess
import sys
import time
import uuid

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

import gjobs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: A directory whose ``sitecustomize`` moves ``time.time`` of a worker by $GJOBS_TEST_CLOCK_SHIFT
#: seconds: a worker whose clock is off.
CLOCK_SHIFT_DIR = os.path.join(ROOT, "tests", "clock_shift")

_client = None


def _redis():
    """This process' client to the worker's Redis (created on first use, after patching)."""
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            os.environ["REDIS_URL"],
            retry=Retry(ExponentialBackoff(cap=1.0, base=0.01), 60),
            retry_on_error=[redis.ConnectionError, redis.TimeoutError],
        )
    return _client


def _mark(job, field, token=None):
    """Note one run of this job in the hash the job names under ``field``, if any.

    The field is ``<n>:<token of this run>:<pid of the worker process>``, so a write retried
    after its reply was lost is not counted twice; its value is when the note was made (this
    host's real clock, epoch seconds). :func:`runs` counts the runs of each job, and
    :func:`run_marks` tells which process made each note and when. ``token`` names the run (a
    fresh one by default): :func:`record` gives its two notes the same.
    """
    key = job.get(field)
    if key:
        _redis().hset(key, f"{job['n']}:{token or uuid.uuid4().hex}:{os.getpid()}", repr(_true_time()))


def runs(client, key):
    """``{n: how many times job n ran}`` from a hash written by :func:`_mark`."""
    counts = {}
    for field in client.hkeys(key):
        n = int(field.split(b":")[0])
        counts[n] = counts.get(n, 0) + 1
    return counts


def run_marks(client, key):
    """``{n: [(token, pid, at), ...]}`` from a hash written by :func:`_mark`: every run of job n
    noted there, with the pid of the worker process that ran it and when it was noted."""
    marks = {}
    for field, value in client.hgetall(key).items():
        n, token, pid = field.decode().split(":")
        marks.setdefault(int(n), []).append((token, int(pid), float(value)))
    return marks


def record(job):
    """Sleep ``job["sleep"]`` seconds (cooperatively), then note the run under ``job["record"]``.

    Notes the start under ``job["started"]`` first, when the job names that key; both notes of
    one run carry the same token, so a run's start and end can be paired (:func:`run_marks`).
    """
    import gevent

    token = uuid.uuid4().hex
    _mark(job, "started", token)
    if job.get("sleep"):
        gevent.sleep(job["sleep"])
    _mark(job, "record", token)


def crash(job):
    """Kill the whole worker process at once, as a segfault or the OOM killer would."""
    _mark(job, "started")
    os._exit(17)


def busy(job):
    """Hold the CPU in a pure Python loop for ``job["seconds"]``, never yielding to gevent."""
    _mark(job, "started")
    deadline = time.monotonic() + job["seconds"]
    spins = 0
    while time.monotonic() < deadline:
        spins += 1
    _mark(job, "record")


def fail(job):
    """Raise every time, after noting the attempt's time in the list ``job["attempts"]``."""
    _redis().rpush(job["attempts"], repr(time.time()))
    raise RuntimeError(f"job {job['n']} always fails")


def exits(job):
    """End the way an argparse-minded function or a library that gives up does: ``sys.exit(2)``,
    after noting the attempt under ``job["started"]``."""
    _mark(job, "started")
    sys.exit(2)


def ran_at(job):
    """Note the run under ``job["record"]`` and when it started (this host's real clock, whatever
    the worker's shifted one says) in the list ``job["at"]``."""
    _redis().rpush(job["at"], repr(_true_time()))
    _mark(job, "record")


def _true_time():
    """The real wall clock, also in a worker whose ``time.time`` the clock-shift harness moved."""
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).timestamp()


def tally(client, record, count):
    """``(ran, duplicates, lost)``: jobs that ran, extra runs, jobs that never ran."""
    counts = runs(client, record).values()
    return len(counts), sum(counts) - len(counts), count - len(counts)


def all_ran(client, record, count):
    return len(runs(client, record)) == count


def settled(queue):
    """Nothing ready, delayed, pending or dead, and no payload left: every job completed."""
    stats = queue.stats()
    return (stats["ready"], stats["delayed"], stats["in_progress"], stats["dead"], queue.job_store.size()) == (
        0, 0, 0, 0, 0
    )


# -- worker processes -------------------------------------------------------------------------


def worker_command():
    """The ``gjobs-worker`` of this interpreter (``python -m gjobs`` when it is not installed)."""
    script = os.path.join(os.path.dirname(sys.executable), "gjobs-worker")
    return [script] if os.path.exists(script) else [sys.executable, "-m", "gjobs"]


class WorkerProcess:
    """A ``gjobs-worker`` running ``delegate`` (a name in this module) in its own process group.

    Its stderr (the log) goes to a file under ``directory``; ``url`` is given both as
    ``--redis-url`` unless ``url_in_env_only`` and as ``$REDIS_URL`` (for the delegates).
    """

    def __init__(self, delegate, url, prefix, directory, *options, url_in_env_only=False, name="worker",
                 clock_shift=0.0):
        self.log_path = os.path.join(str(directory), f"{name}-{time.monotonic_ns()}.log")
        argv = worker_command() + [f"tests.fault_delegates:{delegate}", "--prefix", prefix]
        if not url_in_env_only:
            argv += ["--redis-url", url]
        path = [ROOT] + ([CLOCK_SHIFT_DIR] if clock_shift else []) + [os.environ.get("PYTHONPATH", "")]
        env = dict(os.environ, REDIS_URL=url, PYTHONPATH=os.pathsep.join(path))
        if clock_shift:
            env["GJOBS_TEST_CLOCK_SHIFT"] = repr(clock_shift)
        self._log = open(self.log_path, "wb")
        self.process = subprocess.Popen(
            argv + list(options), cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.pid = self.process.pid

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as handle:
            return handle.read()

    def signal(self, signum):
        if self.process.poll() is None:
            os.kill(self.pid, signum)

    def kill(self):
        """SIGKILL the worker's whole process group."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()

    def wait(self, timeout):
        """The exit status, or None if still running after ``timeout`` seconds."""
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def alive(self):
        return self.process.poll() is None

    def close(self):
        self.kill()
        self._log.close()

    def registered_id(self, queue):
        """This worker's id in the queue's registry, or None while it has not beaten yet."""
        for worker in queue.registry.workers():
            if worker.get("pid") == self.pid:
                return worker["id"]
        return None


def record_tick(job):
    """Note the id of the periodic job running (its tick is in it) under ``{queue}:ticks``."""
    current = gjobs.current_job()
    _redis().rpush(f"{current.queue}:ticks", current.id)
