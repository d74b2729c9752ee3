"""The single time seam: every timestamp gjobs writes comes from :func:`now`.

Functions that depend on time take ``now: float | None = None`` and call :func:`now` only when
it is None, so tests pass the time they want instead of patching or sleeping. Redis' own clock
(``TIME``) is never used: all scores are written by the processes that compute them.
"""

from __future__ import annotations

import time


def now() -> float:
    """Wall-clock time in epoch seconds, with sub-second precision."""
    return time.time()


def monotonic() -> float:
    """Seconds from an arbitrary start, for measuring intervals (never stored in Redis)."""
    return time.monotonic()
