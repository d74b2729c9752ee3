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


#: Seconds from an arbitrary start, for measuring intervals (never stored in Redis). The C
#: function itself, not a wrapper around it: the job runner reads it twice per job, and a Python
#: frame for each read cost about 400 instructions a job (callgrind). A test still moves it by
#: replacing ``clock.monotonic``.
monotonic = time.monotonic
