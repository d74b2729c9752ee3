"""Waiting on conditions instead of sleeping."""

import time

import gevent


def wait_for(condition, timeout=10.0, interval=0.01, message="condition"):
    """Poll ``condition()`` until it is truthy; return its value, or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        gevent.sleep(interval)
