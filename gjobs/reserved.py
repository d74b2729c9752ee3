"""The keys of a job that gjobs itself reads, checked where a job enters and again where it runs.

A job is any dict; these keys are gjobs': ``scheduled_at`` (when it runs), ``timeout`` (seconds
it may run), ``max_attempts`` (its own retry limit), ``result_ttl`` (seconds its result is
kept), ``expires`` (the time after which it is dropped if not started), ``unique_key`` (while a
job holding it is queued or running, another is not stored) and ``unique_for`` (seconds the key
is held at most), ``headers`` (a dict that middleware carries from producer to worker: see
:mod:`gjobs.middleware`). A bad value is refused at enqueue with an
error naming the key and the value, so it never fails for days in a worker; a worker that meets
one anyway (written by another producer) sends the job to the dead set once, with that reason.
"""

from __future__ import annotations

import math
from typing import Any, Dict

from .coder import parse_time

#: The keys gjobs reads from a job.
RESERVED = ("scheduled_at", "timeout", "max_attempts", "result_ttl", "expires", "unique_key", "unique_for", "headers")
#: Characters of a unique key at most.
MAX_UNIQUE_KEY = 200
#: :data:`RESERVED` as a set: whether a job holds any of them is one ``isdisjoint`` test.
KEYS = frozenset(RESERVED)


def check(job: Dict[str, Any]) -> None:
    """Raise ``TypeError`` (a value of the wrong type) or ``ValueError`` (out of range) naming the
    first reserved key of ``job`` that holds a value gjobs cannot use. ``None`` means unset."""
    if KEYS.isdisjoint(job):  # most jobs hold none: one set test rather than eight lookups
        return
    for key, integer, wanted in (("timeout", False, "a positive number of seconds"),
                                 ("max_attempts", True, "a positive integer"),
                                 ("result_ttl", False, "a positive number of seconds"),
                                 ("unique_for", False, "a positive number of seconds")):
        value = job.get(key)
        if value is None:
            continue
        kinds = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise TypeError(f"job key {key!r} must be {wanted}, not {value!r}")
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"job key {key!r} must be {wanted}, not {value!r}")
    for key in ("scheduled_at", "expires"):
        parse_time(job.get(key), f"job key {key!r}")
    headers = job.get("headers")
    if headers is not None and not isinstance(headers, dict):
        raise TypeError(f"job key 'headers' must be a dict, not {headers!r}")
    unique = job.get("unique_key")
    if unique is not None and (not isinstance(unique, str) or not 0 < len(unique) <= MAX_UNIQUE_KEY):
        raise ValueError(f"job key 'unique_key' must be a string of 1 to {MAX_UNIQUE_KEY} characters, not {unique!r}")
