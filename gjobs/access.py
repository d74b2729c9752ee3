"""What a Redis user restricted by an ACL must be allowed, and a clear refusal when it is not.

Redis refuses a key, channel or command its ACL does not grant with ``NOPERM`` and no name. The
worker checks what it needs when it starts and refuses to start with an :class:`AccessError`
naming the key or channel, instead of a loop that fails for as long as it runs. README
"Restricted Redis users" gives the ACL line gjobs needs.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator, Sequence

import redis


class AccessError(RuntimeError):
    """The Redis user may not use a key, channel or command gjobs needs (its ACL refuses)."""


@contextlib.contextmanager
def refused(what: str) -> Iterator[None]:
    """Turn Redis's ACL refusal inside the block into an :class:`AccessError` naming ``what``."""
    try:
        yield
    except redis.exceptions.NoPermissionError as error:
        raise AccessError(
            f"the Redis user may not use {what}: {error}; see README 'Restricted Redis users' for the ACL gjobs needs"
        ) from None


def check_channels(client: Any, channels: Sequence[str], timeout: float) -> None:
    """Raise :class:`AccessError` naming ``channels`` when the user may not subscribe to them."""
    pubsub = client.pubsub()
    try:
        with refused(f"the channels {', '.join(channels)}"):
            pubsub.subscribe(*channels)
            pubsub.get_message(timeout=timeout)  # the reply, or its refusal
    finally:
        pubsub.close()
