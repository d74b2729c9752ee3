"""Connecting to Redis: URLs, version checks, and private clients for background threads."""

from __future__ import annotations

import re
from typing import Any

import redis

#: Oldest Redis that has BLMOVE and RPOP with a count.
MIN_REDIS_VERSION = (6, 2, 0)

DEFAULT_URL = "redis://localhost:6379/0"


class RedisVersionError(RuntimeError):
    """The Redis server is too old for gjobs."""


def connect(url: str = DEFAULT_URL, **options: Any) -> Any:
    """A redis-py client for ``url`` (``redis://``, ``rediss://`` for TLS, ``unix://``).

    Credentials in the URL (``redis://user:password@host``) are used and never logged (see
    :func:`redact`). ``options`` go to ``redis.Redis.from_url``; a health check every 30 s is
    the default so that connections idle in the pool are tested before use.
    """
    options.setdefault("health_check_interval", 30)
    return redis.Redis.from_url(url, **options)


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, for logs and status lines."""
    return re.sub(r"(?<=://)([^:@/]*):([^@/]*)@", lambda m: f"{m.group(1)}:***@", url)


def server_version(client: Any) -> tuple:
    """The server's version as a tuple of ints, or ``()`` when it does not say (no INFO)."""
    try:
        info = client.info("server")
    except redis.ResponseError:
        return ()
    return tuple(int(part) for part in re.findall(r"\d+", str(info.get("redis_version", "")))[:3])


def check_version(client: Any, probe_key: str = "{gjobs}:probe") -> None:
    """Raise :class:`RedisVersionError` with a clear message if the server is older than 6.2.

    Servers that do not answer INFO (it can be renamed away) are probed with an LMOVE on
    ``probe_key``, a key that does not exist, which changes nothing.
    """
    version = server_version(client)
    if version and version < MIN_REDIS_VERSION:
        found = ".".join(map(str, version))
    elif version:
        return
    else:
        try:
            client.lmove(probe_key, probe_key, "RIGHT", "LEFT")
            return
        except redis.ResponseError:
            found = "unknown (it does not know LMOVE)"
    raise RedisVersionError(
        f"gjobs needs Redis 6.2 or newer (for BLMOVE and RPOP with a count); this server is {found}"
    )


def in_process(client: Any) -> bool:
    """True for fakeredis: its server lives in this process, behind locks that gevent patched.

    Its blocking commands return at once under gevent, and its locks cannot be shared with a
    native thread, so gjobs polls instead of blocking and beats from a greenlet on it.
    """
    return type(client).__module__.startswith("fakeredis")


def clone(client: Any) -> Any:
    """A new client to the same server with a pool of its own, for use in another OS thread.

    Sharing a pool across threads under gevent would pass gevent locks and sockets between hubs.
    """
    pool = client.connection_pool
    new_pool = type(pool)(connection_class=pool.connection_class, **pool.connection_kwargs)
    return type(client)(connection_pool=new_pool)
