"""Moves this process's wall clock (``time.time``) by ``$GJOBS_TEST_CLOCK_SHIFT`` seconds, as on
a host whose clock is off: loaded by Python at start-up when this directory is on PYTHONPATH."""

import os
import time

_shift = float(os.environ.get("GJOBS_TEST_CLOCK_SHIFT", "0") or 0)
if _shift:
    _real_time = time.time
    time.time = lambda: _real_time() + _shift
