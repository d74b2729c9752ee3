"""The failure policy: what happens to a job whose attempt failed, decided in one place.

The server asks :meth:`RetryPolicy.decide` after every failed attempt and carries out the
answer with one Lua script. The same ``max_attempts`` decides, in Redis, what recovery does with
the jobs of a worker that died while running them, so a job that crashes its worker every time
ends in the dead set like one that raises every time.
"""

from __future__ import annotations

import random
from typing import Any, Callable, NamedTuple, Optional

from .validate import optional_positive

#: Attempts (runs started, crashes included) before a job goes to the dead set.
DEFAULT_MAX_ATTEMPTS = 25
#: Seconds of the first retry's base delay; each later one doubles it.
BACKOFF_BASE = 10.0
#: Seconds: no retry waits longer than this.
BACKOFF_CAP = 6 * 3600.0

Backoff = Callable[[int], float]


def default_backoff(attempt: int) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    Exponential with "equal jitter": half of ``BACKOFF_BASE * 2**(attempt-1)`` (capped at
    ``BACKOFF_CAP``) plus a random share of the other half, so the first retry comes after 5-10 s,
    the twelfth after about 3-6 hours, and jobs that failed together do not retry together.
    """
    delay = min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** min(max(attempt, 1) - 1, 32))
    return delay / 2 + random.uniform(0, delay / 2)


class Unretryable(Exception):
    """Raised by a delegate for a failure that can never succeed (an unknown task, arguments the
    function does not take): the job goes to the dead set at once, whatever attempts it has left."""


def job_max_attempts(job: Any) -> Optional[int]:
    """A job's own limit: its ``max_attempts`` key when that is a positive integer, else None.

    It applies to failures the delegate reports; recovery after a worker crash uses the worker's.
    """
    limit = job.get("max_attempts") if isinstance(job, dict) else None
    if isinstance(limit, int) and not isinstance(limit, bool) and limit > 0:
        return limit
    return None


class Decision(NamedTuple):
    """``retry`` with the delay in seconds, or not (the job goes to the dead set)."""

    retry: bool
    delay: float = 0.0


class RetryPolicy:
    """Retries with backoff up to ``max_attempts`` (None = forever, as the Ruby origin).

    ``backoff(attempt) -> seconds`` is called with the number of the attempt that failed.
    """

    def __init__(
        self, max_attempts: Optional[int] = DEFAULT_MAX_ATTEMPTS, backoff: Backoff = default_backoff
    ) -> None:
        optional_positive("max_attempts", max_attempts, integer=True)
        if not callable(backoff):
            raise TypeError("backoff must be a callable taking the attempt number")
        self.max_attempts = max_attempts
        self.backoff = backoff

    def decide(
        self, attempts: int, retryable: bool = True, max_attempts: Optional[int] = None,
        backoff: Optional[Backoff] = None,
    ) -> Decision:
        """What to do after attempt number ``attempts`` failed.

        ``retryable`` is False for failures that can never succeed (a payload that cannot be
        decoded, an unknown task), which go to the dead set at once. ``max_attempts``, when
        given, is the job's own limit (see :func:`job_max_attempts`) and replaces the policy's;
        ``backoff``, when given, is the job's own (a task's) and replaces the policy's.
        """
        if not retryable:
            return Decision(False)
        limit = self.max_attempts if max_attempts is None else max_attempts
        if limit is not None and attempts >= limit:
            return Decision(False)
        return Decision(True, max(0.0, float((backoff or self.backoff)(attempts))))

    @property
    def max_attempts_arg(self) -> int:
        """``max_attempts`` as the Lua scripts take it: 0 means unlimited."""
        return self.max_attempts or 0
