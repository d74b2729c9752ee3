"""The time seam: this process's clock (:func:`now`, :func:`monotonic`) and Redis's
(:func:`redis_now`).

Functions that depend on time take ``now: float | None = None`` and read a clock only when it
is None, so tests pass the time they want instead of patching or sleeping. What decides
liveness, due times and ticks is Redis's clock (``TIME``, read inside the scripts or by
:func:`redis_now`), so that processes whose clocks disagree still agree.
"""

from __future__ import annotations

import time
from typing import Any


def now() -> float:
    """Wall-clock time in epoch seconds, with sub-second precision."""
    return time.time()


#: Seconds from an arbitrary start, for measuring intervals (never stored in Redis). The C
#: function itself, not a wrapper around it: the job runner reads it twice per job, and a Python
#: frame for each read cost about 400 instructions a job (callgrind). A test still moves it by
#: replacing ``clock.monotonic``.
monotonic = time.monotonic


def redis_now(client: Any) -> float:
    """Redis's clock (``TIME``) through ``client``, in epoch seconds."""
    seconds, micros = client.time()
    return float(seconds) + float(micros) / 1e6
