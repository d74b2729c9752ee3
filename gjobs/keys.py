"""The one place that names every Redis key of a queue.

Every key of a queue starts with the same Redis Cluster hash tag, ``{prefix}``, so all of them
live in one slot and every Lua script that touches several of them stays valid on a cluster.
Queues with different prefixes hash to different slots, which is how they spread over shards.
"""

from __future__ import annotations

import re
from typing import Any

#: What a queue's name (its prefix) may be.
VALID_PREFIX = re.compile(r"^[A-Za-z0-9_.:\-]+$")

#: set: the names (prefixes) of the queues a worker has ever started on, so that ``gjobs stats``
#: finds every queue without scanning the keyspace. It belongs to no queue, so it is the one key
#: outside any ``{prefix}`` hash tag: only single-key commands (SADD, SMEMBERS) touch it, never a
#: script, which keeps it valid on a cluster. It cannot clash with a queue's keys, which all
#: start with ``{``.
QUEUES = "gjobs:queues"


def text(value: Any) -> str:
    """A key, member or id as Redis returned it (bytes, unless the client decodes replies) as str."""
    return value.decode() if isinstance(value, bytes) else value


class Keys:
    """The key names of one queue.

    ``prefix`` names the queue. It may hold letters, digits and ``_ . : -``; braces are refused
    because they would change the hash tag, spaces because they make keys hard to type in a CLI.
    """

    __slots__ = (
        "prefix",
        "tag",
        "jobs",
        "attempts",
        "ready",
        "delayed",
        "completed",
        "missing",
        "workers",
        "workers_info",
        "dead",
        "dead_errors",
        "wakeup",
        "ids",
        "progress",
        "finished",
        "finished_old",
        "unique",
        "unique_of",
        "unique_until",
        "cancels",
        "cancelled",
        "expired",
        "paused",
        "cancel",
        "cron",
        "cron_payloads",
        "cron_leases",
        "cron_last",
        "cron_jobs",
        "cron_paused",
        "retried",
        "buried",
        "runtimes",
    )

    def __init__(self, prefix: str = "gjobs") -> None:
        if not isinstance(prefix, str) or not VALID_PREFIX.match(prefix):
            raise ValueError(
                f"invalid queue prefix {prefix!r}: use letters, digits and _ . : - only"
            )
        self.prefix = prefix
        self.tag = tag = "{%s}" % prefix
        #: hash: job id -> encoded job (the job store)
        self.jobs = f"{tag}:jobs"
        #: hash: job id -> attempts started so far (kept until the job completes or is purged)
        self.attempts = f"{tag}:attempts"
        #: list: ids ready to run; pushed on the left, taken from the right
        self.ready = f"{tag}:ready"
        #: sorted set: id -> due time in epoch seconds
        self.delayed = f"{tag}:delayed"
        #: string: count of jobs completed, ever
        self.completed = f"{tag}:completed"
        #: string: count of ids dropped because their payload was gone
        self.missing = f"{tag}:missing"
        #: sorted set: worker id -> last heartbeat in epoch seconds
        self.workers = f"{tag}:workers"
        #: hash: worker id -> JSON description (host, pid, started, concurrency, in flight)
        self.workers_info = f"{tag}:workers:info"
        #: sorted set: id -> when the job died, epoch seconds
        self.dead = f"{tag}:dead"
        #: hash: id -> JSON error record of a dead job
        self.dead_errors = f"{tag}:dead:errors"
        #: pub/sub channel: published when a delayed job is due before all others
        self.wakeup = f"{tag}:wakeup"
        #: sorted set: caller-given job id -> when it was enqueued (Redis's clock), remembered
        #: for a while so that enqueueing it again writes nothing
        self.ids = f"{tag}:ids"
        #: hash: id -> JSON progress a running job reported (``gjobs.current_job()``)
        self.progress = f"{tag}:progress"
        #: hash: id -> ``when`` it ended (Redis's clock) for a job that succeeded, or
        #: ``when|state|seconds it ran|attempts|worker`` (cancelled, expired, or a job of gjobs'
        #: own keys): the current generation of finished jobs (see complete.lua)
        self.finished = f"{tag}:done"
        #: hash: the previous generation of :attr:`finished`
        self.finished_old = f"{tag}:done:old"
        #: hash: unique key -> id of the job that holds it (``unique_key``, ``@task(unique_for=)``)
        self.unique = f"{tag}:unique"
        #: hash: id -> the unique key it holds
        self.unique_of = f"{tag}:unique:of"
        #: sorted set: unique key -> when it is released at the latest (Redis's clock)
        self.unique_until = f"{tag}:unique:until"
        #: sorted set: id -> when a cancel of it was asked, until the job is dropped or stopped
        self.cancels = f"{tag}:cancels"
        #: string: count of jobs cancelled, ever
        self.cancelled = f"{tag}:cancelled"
        #: string: count of jobs dropped because they expired before they started, ever
        self.expired = f"{tag}:expired"
        #: string: set while the queue is paused (workers fetch nothing from it)
        self.paused = f"{tag}:paused"
        #: pub/sub channel: the id of a job whose cancel was asked, for the worker running it
        self.cancel = f"{tag}:cancel"
        #: hash: schedule name -> JSON definition (cron or every, tz, overlap, grace, task), as
        #: the workers that declare it publish it
        self.cron = f"{tag}:cron"
        #: hash: schedule name -> the encoded job each of its ticks enqueues
        self.cron_payloads = f"{tag}:cron:payloads"
        #: sorted set: schedule name -> until when a running worker declares it (Redis's clock)
        self.cron_leases = f"{tag}:cron:leases"
        #: hash: schedule name -> the last tick handled (fired or skipped), epoch seconds
        self.cron_last = f"{tag}:cron:last"
        #: hash: schedule name -> the id of the last job it enqueued
        self.cron_jobs = f"{tag}:cron:jobs"
        #: set: names of the paused schedules
        self.cron_paused = f"{tag}:cron:paused"
        #: string: count of failed attempts retried, ever (see :mod:`gjobs.counts`)
        self.retried = f"{tag}:retried"
        #: string: count of jobs that went to the dead set, ever
        self.buried = f"{tag}:buried"
        #: hash: ``TASK|BUCKET`` -> runs, ``TASK|sum`` -> seconds: run times (see gjobs.run_times)
        self.runtimes = f"{tag}:runtimes"

    def pending(self, worker_id: str) -> str:
        """The list of ids one worker has taken and not yet settled."""
        return f"{self.tag}:pending:{worker_id}"

    def minute(self, minute: int) -> str:
        """The counts of one minute (minutes since the epoch): a hash, expiring by itself."""
        return f"{self.tag}:minute:{minute}"

    def result(self, job_id: str) -> str:
        """The result of one job, kept for its ``result_ttl`` seconds."""
        return f"{self.tag}:result:{job_id}"

    def __repr__(self) -> str:
        return f"Keys({self.prefix!r})"
