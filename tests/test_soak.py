"""A soak: random faults of every kind against real worker processes, bounded in time.

The promise checked: an outage that every worker suffered together does not make them judge
each other, a worker never runs one job twice at once, and a run's outcome only ever settles
that run. So under faults of every kind (kill -9, SIGSTOP, SIGTERM, cut connections, a Redis
restart) no job is lost, and every job that ran twice ran at least once on a worker that was
killed -9 or SIGSTOPped: the only faults that may make a job run again whole.

Faults come one at a time: a SIGTERMed worker has exited before the next fault, so no stop
overlaps an outage (finished jobs whose report a stopping worker could not send may run again,
as the README says; that is not what this soak checks).

The faults and the jobs come from one seeded ``random.Random``; the seed is printed first, and
``GJOBS_SOAK_SEED=<seed>`` replays the same schedule (the timing of processes still varies).
"""

import os
import random
import re
import signal
import time

import gevent
import gevent.event
import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from gjobs import Queue
from gjobs.embedded import RedisProcess
from tests.fault_delegates import run_marks, settled
from tests.helpers import wait_for

#: Seconds during which faults are made; then the workers are left to recover.
FAULT_SECONDS = 50
WORKERS = 4
HEARTBEAT = 1.0
OPTIONS = ("--heartbeat-interval", str(HEARTBEAT), "--concurrency", "20", "--shutdown-timeout", "1")
KILL, STOP, TERM, CUT, RESTART = "kill -9", "SIGSTOP", "SIGTERM", "connections cut", "Redis restart"
KINDS = (KILL, STOP, TERM, CUT, RESTART)
#: The faults that may make a job run twice: the worker is gone, or frozen past two heartbeats.
EXPLAINING = (KILL, STOP)


def steady(call, timeout=60.0):
    """``call()``, tried again while Redis cannot be reached (restarting, or our connection cut)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (redis.ConnectionError, redis.TimeoutError):
            if time.monotonic() > deadline:
                raise
            gevent.sleep(0.05)  # the pace of the retries


class Producer:
    """Enqueues jobs of 5-200 ms in batches until stopped, each under its own id ``job-<n>``,
    retried through restarts and cut connections until Redis took it: a caller's id is stored
    at most once, so a retry whose first call did reach Redis adds nothing. Its client does not
    retry by itself: every failed call is retried here, and counted."""

    def __init__(self, port, prefix, rng, started, record):
        self.client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, socket_connect_timeout=5,
                                  retry=Retry(NoBackoff(), 0))
        self.queue = Queue(self.client, prefix)
        self.rng, self.started, self.record = rng, started, record
        self.count = 0
        self.retries = 0
        self.longest_s = 0.0
        self._stop = gevent.event.Event()
        self.greenlet = None

    def start(self):
        self.greenlet = gevent.spawn(self._run)

    def stop(self, timeout=90):
        self._stop.set()
        self.greenlet.join(timeout)
        assert self.greenlet.dead, "the producer did not stop"
        self.client.close()
        self.greenlet.get()  # its error, if it failed

    def _run(self):
        while not self._stop.is_set():
            for _ in range(self.rng.randint(30, 70)):
                self._store(self.count)
                self.count += 1
            self._stop.wait(self.rng.uniform(0.1, 0.4))  # the pace of the batches

    def _store(self, n):
        job = {"n": n, "sleep": round(self.rng.uniform(0.005, 0.2), 3), "started": self.started,
               "record": self.record}
        began = time.monotonic()
        deadline = began + 60
        while True:
            try:
                self.queue.enqueue(job, id=f"job-{n}")
                self.longest_s = max(self.longest_s, time.monotonic() - began)
                return
            except (redis.ConnectionError, redis.TimeoutError):
                if time.monotonic() > deadline:
                    raise
                self.retries += 1
                gevent.sleep(0.05)


class Faults:
    """The workers and the Redis server under test, and the faults made to them: ``timeline``
    lists each fault (wall-clock time, kind, pid, detail); ``suffered`` maps the pid of every
    worker killed -9 or SIGSTOPped to those faults, each as ``(kind, from, until)`` (wall clock:
    the instant of a kill, the time a worker was frozen)."""

    def __init__(self, server, rng, start_worker):
        self.server, self.rng, self.start_worker = server, rng, start_worker
        self.killer = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)
        self.workers = [start_worker() for _ in range(WORKERS)]
        self.timeline = []
        self.suffered = {}
        self.problems = []
        self._deck = []

    def alive(self):
        return [worker for worker in self.workers if worker.alive()]

    def note(self, kind, pid=None, detail="", at=None, until=None):
        """Add a fault to the timeline, at ``at`` (wall clock; now by default), lasting ``until``."""
        at = at or time.time()
        self.timeline.append((at, kind, pid, detail))
        if kind in EXPLAINING:
            self.suffered.setdefault(pid, []).append((kind, at, until or at))

    def cause(self, marks):
        """The kind of the fault that best explains why a job ran as ``marks`` say: among the
        kills and freezes of the workers that ran it, the nearest to the end of their run there;
        None when none of those workers was killed -9 or SIGSTOPped."""
        near = [(max(begin - at, at - until, 0), kind) for _, pid, at in marks
                for kind, begin, until in self.suffered.get(pid, ())]
        return min(near)[1] if near else None

    def next_kind(self):
        """Every kind once per round of five, in a random order."""
        if not self._deck:
            self._deck = self.rng.sample(KINDS, len(KINDS))
        return self._deck.pop()

    def make(self, kind):
        {KILL: self.kill_9, STOP: self.freeze, TERM: self.terminate, CUT: self.cut, RESTART: self.restart}[kind]()

    def kill_9(self):
        victim = self.rng.choice(self.alive())
        victim.kill()
        self.note(KILL, victim.pid)
        self.workers.append(self.start_worker())

    def freeze(self):
        victim = self.rng.choice(self.alive())
        seconds = self.rng.uniform(3, 5)  # more than two heartbeats: the others presume it dead
        at = time.time()
        victim.signal(signal.SIGSTOP)
        gevent.sleep(seconds)  # the fault itself
        victim.signal(signal.SIGCONT)
        self.note(STOP, victim.pid, f"{seconds:.1f} s", at, time.time())

    def terminate(self):
        victim = self.rng.choice(self.alive())
        at, signalled = time.time(), time.monotonic()
        victim.signal(signal.SIGTERM)
        status = victim.wait(30)
        self.note(TERM, victim.pid, f"exit {status} after {time.monotonic() - signalled:.1f} s", at)
        if status != 0:
            self.problems.append(f"worker {victim.pid} SIGTERMed: exit status {status} (None: still running)")
            victim.kill()
        self.workers.append(self.start_worker())

    def cut(self):
        killed = steady(lambda: self.killer.client_kill_filter(_type="normal"))  # never itself (SKIPME)
        self.note(CUT, detail=f"{killed} connections")

    def restart(self):
        hard = self.rng.random() < 0.5
        seconds = self.rng.uniform(1, 3)
        at, stopping = time.time(), time.monotonic()
        self.server.stop(kill=hard)
        gevent.sleep(seconds)  # the outage itself
        self.server.start(timeout=60)
        down = time.monotonic() - stopping
        self.note(RESTART, None, f"{'SIGKILL' if hard else 'SIGTERM'}, down {down:.1f} s", at)


def worker_pid(worker_id):
    """The pid in a default worker id, ``host-pid-random``."""
    return int(worker_id.rsplit("-", 2)[1])


def judged(workers):
    """``(recovered, presumed)``: the pids of the workers others recovered ("stopped
    heartbeating"), and of those that logged they had been presumed dead."""
    recovered, presumed = [], []
    for worker in workers:
        log = worker.log()
        recovered += [worker_pid(w) for w in re.findall(r"worker (\S+) stopped heartbeating", log)]
        presumed += [worker_pid(w) for w in re.findall(r"worker (\S+) was presumed dead", log)]
    return recovered, presumed


def eventually(condition, timeout):
    """Whether ``condition()`` came true within ``timeout`` seconds (polled twice a second)."""
    try:
        wait_for(condition, timeout=timeout, interval=0.5)
    except AssertionError:
        return False
    return True


def overlapping(spans):
    """Whether any two of ``spans`` ((start, end) pairs) overlap."""
    spans = sorted(spans)
    return any(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_soak_of_random_faults_loses_nothing_and_every_duplicate_is_explained(prefix, spawn, report):
    """4 workers (heartbeat 1 s, concurrency 20, shutdown timeout 1 s) run jobs of 5-200 ms,
    enqueued in batches throughout, while a random fault strikes every 2-6 s for 50 s: kill -9
    of a worker (replaced), SIGSTOP for 3-5 s, SIGTERM (replaced once it exited), every
    connection cut, Redis stopped for 1-3 s and started again on its append-only file. Then:
    every job ran, the queue settled, no worker ran a job twice at once, and every job that ran
    twice ran on a worker that was killed -9 or SIGSTOPped. No worker the faults spared was
    presumed dead, or recovered by another."""
    seed = int(os.environ.get("GJOBS_SOAK_SEED") or random.randrange(2**32))
    report("soak", seed=seed)
    rng = random.Random(seed)
    server = RedisProcess(extra=["--appendonly", "yes", "--appendfsync", "always"]).start()
    client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10, socket_connect_timeout=5)
    try:
        queue = Queue(client, prefix)
        started, record = f"{prefix}:test:started", f"{prefix}:test:ran"
        faults = Faults(server, random.Random(rng.random()),
                        lambda: spawn("record", server.url, prefix, *OPTIONS))
        producer = Producer(server.port, prefix, random.Random(rng.random()), started, record)
        wait_for(lambda: len(queue.registry.workers()) == WORKERS, timeout=60, message="every worker registered")
        began, began_wall = time.monotonic(), time.time()
        producer.start()
        wait_for(lambda: client.hlen(record) >= 100, timeout=60, message="the first jobs done")

        schedule = faults.rng
        faults_until = time.monotonic() + FAULT_SECONDS
        while True:
            gevent.sleep(schedule.uniform(2, 6))  # the schedule of the faults
            made = {kind for _, kind, _, _ in faults.timeline}
            if time.monotonic() >= faults_until and made == set(KINDS):  # all five: one round at most
                break
            faults.make(faults.next_kind())
        producer.stop()
        faults_ended = time.monotonic()
        count = producer.count

        all_ran = eventually(lambda: len(steady(lambda: run_marks(client, record))) >= count, timeout=240)
        recovered_s = time.monotonic() - faults_ended
        calm = eventually(lambda: steady(lambda: settled(queue)), timeout=120)

        done = steady(lambda: run_marks(client, record))
        starts = {token: at for marks in run_marks(client, started).values() for token, _, at in marks}
        lost = sorted(set(range(count)) - set(done))
        unknown = sorted(set(done) - set(range(count)))
        duplicates = {n: marks for n, marks in done.items() if len(marks) > 1}
        causes = {n: faults.cause(marks) for n, marks in duplicates.items()}
        unexplained = sorted(n for n, cause in causes.items() if cause is None)
        at_once = sorted(n for n, marks in done.items()
                         if any(overlapping([(starts.get(token, at), at) for token, p, at in marks if p == pid])
                                for pid in {pid for _, pid, _ in marks}))
        recovered, presumed = judged(faults.workers)
        misjudged = sorted({pid for pid in recovered + presumed if pid not in faults.suffered})
        kinds = [kind for _, kind, _, _ in faults.timeline]
        logs = "".join(worker.log() for worker in faults.workers)
        report("soak", seed=seed, jobs=count, fault_s=round(faults_ended - began, 1),
               faults={kind: kinds.count(kind) for kind in KINDS},
               timeline=[f"{at - began_wall:.1f}s {kind}{f' {pid}' if pid else ''} ({detail})"
                         for at, kind, pid, detail in faults.timeline],
               workers_started=len(faults.workers), enqueue_retries=producer.retries,
               longest_enqueue_s=round(producer.longest_s, 1), recovered_workers=len(set(recovered)),
               lost_fetch_replies_requeued=sum(int(k) for k in re.findall(r"requeued (\d+) jobs whose fetch", logs)),
               missing_payloads=steady(lambda: queue.stats()["missing"]),
               duplicates=len(duplicates), runs_twice_or_more=sum(len(m) - 1 for m in duplicates.values()),
               explained_by_kill_9=list(causes.values()).count(KILL),
               explained_by_sigstop=list(causes.values()).count(STOP),
               unexplained=len(unexplained), lost=len(lost), run_twice_at_once=len(at_once),
               misjudged_workers=len(misjudged), all_ran_after_faults_s=round(recovered_s, 1) if all_ran else None,
               settled=calm, total_s=round(time.monotonic() - began, 1))
        details = explain(seed, began_wall, faults, done, starts, unexplained + at_once + lost, misjudged)
        assert not lost, details
        assert all_ran and calm, f"stats {steady(queue.stats)}\n{details}"
        assert not unknown, details
        assert not unexplained, details
        assert not at_once, details
        assert not misjudged, details
        assert not faults.problems, details
        assert set(kinds) == set(KINDS), details
    finally:
        client.close()
        server.cleanup()


def explain(seed, began_wall, faults, done, starts, jobs, misjudged):
    """What a failure needs to be understood: the seed, the faults in order, each job named with
    its runs (pid, start and end, seconds from the start of the run), and the worker log lines
    that name those jobs or those misjudged workers."""
    lines = [f"seed {seed}; faults:"]
    for at, kind, pid, detail in faults.timeline:
        lines.append(f"  {at - began_wall:7.2f} s  {kind:<16} {pid or '':>8}  {detail}")
    for n in sorted(set(jobs))[:20]:
        runs = ", ".join(f"pid {pid} {starts.get(token, at) - began_wall:.2f}-{at - began_wall:.2f} s"
                         for token, pid, at in sorted(done.get(n, []), key=lambda mark: mark[2]))
        lines.append(f"job-{n}: {runs or 'never ran'}")
    names = [f"job-{n}" for n in sorted(set(jobs))[:20]] + [f"-{pid}-" for pid in misjudged]
    named = re.compile("|".join(rf"{re.escape(name)}(?!\d)" for name in names)) if names else None
    for worker in faults.workers if named else ():
        hits = [line for line in worker.log().splitlines() if named.search(line)]
        if hits:
            lines.append(f"log of worker {worker.pid}:")
            lines += [f"  {line}" for line in hits[:40]]
    return "\n".join(lines)
