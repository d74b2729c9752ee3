"""How jobs become bytes in Redis, and how ``scheduled_at`` values become timestamps.

A coder is any object with ``dump(job) -> bytes | str`` and ``load(data) -> job``. JSON is the
default because it is safe to load from a shared Redis: nothing in a payload is ever evaluated
or imported. ``dump`` must raise ``TypeError`` or ``ValueError`` for a job it cannot encode;
``load`` may raise anything, and a job that cannot be decoded goes to the dead set.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from typing import Any, Optional, Protocol, cast


class Coder(Protocol):
    def dump(self, job: Any) -> bytes | str: ...

    def load(self, data: bytes) -> Any: ...


class JSONCoder:
    """Compact JSON. ``datetime`` and ``date`` values are written as ISO-8601 strings.

    Anything else JSON cannot represent (sets, bytes, objects) raises ``TypeError`` at ``dump``
    time, so a bad job is refused at enqueue instead of failing in the worker.
    """

    def __init__(self) -> None:
        self._encoder = json.JSONEncoder(
            separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_encode_default
        )
        decoder = json.JSONDecoder()
        self._decode = decoder.decode
        # The C scanner that decode() runs after two regex matches for surrounding whitespace:
        # called directly, it decodes a worker's payloads in half the time.
        self._scan = cast(Any, decoder).scan_once

    def dump(self, job: Any) -> bytes:
        return self._encoder.encode(job).encode("utf-8")

    def load(self, data: bytes | str) -> Any:
        if isinstance(data, bytes):
            data = data.decode("utf-8")
        try:
            job, end = self._scan(data, 0)
        except StopIteration:
            return self._decode(data)  # not JSON at its start: decode() raises the usual error
        if end != len(data):
            return self._decode(data)  # whitespace or more after it: decode() sorts it out
        return job


def _encode_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} {value!r} is not JSON serializable")


#: The coder used when none is given.
DEFAULT = JSONCoder()


def load_for_showing(coder: Any, payload: Optional[bytes]) -> Any:
    """A stored job decoded to show it: None when its payload is gone, and the raw bytes when
    ``coder`` cannot decode them (which is often why the job died)."""
    if payload is None:
        return None
    try:
        return coder.load(payload)
    except Exception:
        return payload


def parse_time(value: Any, name: str = "scheduled_at") -> float | None:
    """Turn a ``scheduled_at`` value into epoch seconds, or None for "run now".

    Accepts None, an int or float epoch, a ``datetime`` (naive means local time, as Ruby's
    ``Time``), a ``date`` (local midnight), or an ISO-8601 string (a trailing ``Z`` means UTC;
    without an offset, local time). Raises ``ValueError`` or ``TypeError`` for anything else,
    including NaN and infinities; ``name`` is what the messages call the value.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError(f"{name} must be a time, an epoch number or an ISO-8601 string, not a bool")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an int beyond the range of a float (about 1.8e308)
            raise ValueError(f"{name} is too large to be an epoch time") from None
        if not math.isfinite(seconds):
            raise ValueError(f"{name} must be finite, not {value!r}")
        return seconds
    if isinstance(value, _dt.datetime):
        return value.timestamp()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day).timestamp()
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            return _dt.datetime.fromisoformat(text).timestamp()
        except ValueError:
            raise ValueError(f"{name} {value!r} is not an ISO-8601 time") from None
    raise TypeError(
        f"{name} must be a datetime, an epoch number or an ISO-8601 string, not {type(value).__name__}"
    )
