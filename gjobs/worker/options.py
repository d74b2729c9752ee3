"""The options of a worker, their defaults (each with its unit), and their checks, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..dead_set import DEFAULT_MAX_AGE, DEFAULT_MAX_COUNT
from ..processing_list import DEFAULT_KEEP_FINISHED, DEFAULT_KEEP_FINISHED_AGE
from ..retries import DEFAULT_MAX_ATTEMPTS, Backoff, RetryPolicy, default_backoff
from ..validate import non_negative, optional_positive, positive

#: Jobs run at once by one worker when no ``parent`` pool is given. Greenlets are cheap, but
#: each running job usually holds something that is not (a database connection, a socket).
DEFAULT_CONCURRENCY = 25
#: Seconds between heartbeats; a worker silent for twice this long is presumed dead.
DEFAULT_HEARTBEAT_INTERVAL = 5.0
#: Seconds in-flight jobs get to finish when the worker stops.
DEFAULT_SHUTDOWN_TIMEOUT = 25.0
#: Seconds one blocking fetch waits for a job; bounds how long a stop takes when idle.
DEFAULT_BLOCK_TIMEOUT = 1.0
#: Jobs taken per fetch call at most (never more than there are free slots). Unless
#: ``fetch_batch`` is given, also never more than half the worker's slots (rounded up): with
#: every slot in one call, the jobs of a fetch all ended before the next one was sent, and the
#: worker sat idle through each round trip; with halves, one half runs while the other is
#: fetched (no-op jobs at concurrency 100: 1.21x the jobs/s, side by side in scripts/bench).
DEFAULT_FETCH_BATCH = 100
#: The largest ``fetch_batch`` allowed: fetch.lua unpacks a batch's ids into single commands, and
#: Lua's unpack fails past a few thousand values (the origin design's promotion died of that).
MAX_FETCH_BATCH = 1000
#: Seconds the promoter of delayed jobs sleeps at most between two looks at the delayed sets.
DEFAULT_RESOLUTION = 10.0


@dataclass(frozen=True)
class Options:
    """What a worker is told, checked when it is built (a bad value raises ``ValueError`` naming
    the option). See :class:`gjobs.Server` for what each one means."""

    resolution: float = DEFAULT_RESOLUTION
    concurrency: int = DEFAULT_CONCURRENCY
    heartbeat_interval: float = DEFAULT_HEARTBEAT_INTERVAL
    max_attempts: Optional[int] = DEFAULT_MAX_ATTEMPTS
    backoff: Backoff = default_backoff
    timeout: Optional[float] = None
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT
    block_timeout: float = DEFAULT_BLOCK_TIMEOUT
    #: None: see :data:`DEFAULT_FETCH_BATCH`.
    fetch_batch: Optional[int] = None
    dead_max: Optional[int] = DEFAULT_MAX_COUNT
    dead_max_age: Optional[float] = DEFAULT_MAX_AGE
    keep_finished: int = DEFAULT_KEEP_FINISHED
    keep_finished_age: float = DEFAULT_KEEP_FINISHED_AGE
    #: One INFO line per job that succeeded (``job app.mail:send[ID] succeeded in 12 ms``);
    #: failures are always logged.
    log_jobs: bool = False

    def __post_init__(self) -> None:
        positive("resolution", self.resolution)
        positive("concurrency", self.concurrency, integer=True)
        positive("heartbeat_interval", self.heartbeat_interval)
        optional_positive("timeout", self.timeout)
        non_negative("shutdown_timeout", self.shutdown_timeout)
        positive("block_timeout", self.block_timeout)
        optional_positive("fetch_batch", self.fetch_batch, integer=True)
        if self.fetch_batch is not None and self.fetch_batch > MAX_FETCH_BATCH:
            raise ValueError(f"fetch_batch must be at most {MAX_FETCH_BATCH}, not {self.fetch_batch!r}")
        optional_positive("dead_max", self.dead_max, integer=True)
        optional_positive("dead_max_age", self.dead_max_age)
        non_negative("keep_finished", self.keep_finished, integer=True)
        positive("keep_finished_age", self.keep_finished_age)
        if not isinstance(self.log_jobs, bool):
            raise ValueError(f"log_jobs must be True or False, not {self.log_jobs!r}")
        RetryPolicy(self.max_attempts, self.backoff)  # checks both

    def batch_for(self, slots: int) -> int:
        """Jobs one fetch call takes at most in a worker of ``slots`` slots."""
        if self.fetch_batch is not None:
            return self.fetch_batch
        return min(DEFAULT_FETCH_BATCH, (slots + 1) // 2)

    @property
    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.max_attempts, self.backoff)
