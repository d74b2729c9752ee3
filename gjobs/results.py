"""Results: the return value of a job that asked for it (``result_ttl``), kept for that long.

A result is stored under the job's own key, ``{prefix}:result:<id>``, with an expiry, before the
job is reported complete: a job whose state is succeeded has its result until its TTL ends.
The value is the queue's coder's encoding behind a one-byte mark: ``R`` for a result, ``E`` for
a result that was refused (too large, or the coder could not encode it), with the reason.
"""

from __future__ import annotations

from typing import Any, Optional, Union

#: Bytes of an encoded result kept at most: a larger one is refused, and the job's record says
#: why (results live in Redis's memory; put big outputs in a file or a database).
MAX_RESULT_BYTES = 512 * 1024

_RESULT, _REFUSED = b"R", b"E"


class ResultRefused(Exception):
    """A job's result was too large, or could not be encoded; the job itself succeeded."""


def encode(coder: Any, result: Any) -> bytes:
    """The stored form of ``result``; a refusal (stored instead, with its reason) when it cannot
    be kept."""
    try:
        data: Union[bytes, str] = coder.dump(result)
    except Exception as error:
        return _REFUSED + f"the result cannot be encoded: {error}".encode()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_RESULT_BYTES:
        return _REFUSED + f"the result is {len(data):,} bytes, more than the {MAX_RESULT_BYTES:,} kept".encode()
    return _RESULT + data


def refusal(stored: bytes) -> Optional[str]:
    """Why a stored result was refused, or None when it is a result."""
    return stored[1:].decode("utf-8", "replace") if stored[:1] == _REFUSED else None


def decode(coder: Any, stored: bytes) -> Any:
    """The result from its stored form; raises :class:`ResultRefused` for a refusal."""
    reason = refusal(stored)
    if reason is not None:
        raise ResultRefused(reason)
    return coder.load(stored[1:])

