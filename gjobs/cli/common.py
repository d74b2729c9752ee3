"""What both commands share: bad input, the Redis URL rule, loading a delegate, telling a Redis
failure from a bug, and a Redis not reached (yet) from one that refuses.

Nothing here patches gevent or imports the user's code at import time: ``gjobs`` is a plain
synchronous client, and only the ``gjobs-worker`` entry point (:mod:`gjobs.__main__`) patches.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, List, Optional, Sequence

import redis

from gjobs.access import AccessError
from gjobs.connection import DEFAULT_URL, RedisVersionError


class UsageError(Exception):
    """Bad input at the command line: reported in one line, exit status 2."""


class Failure(Exception):
    """The command could not do what was asked (no such job, a queue still in use): one line,
    exit status 1."""


def redis_url(given: Optional[str]) -> str:
    """The Redis to use: the ``--redis-url`` given, else ``$REDIS_URL``, else the default."""
    return given or os.environ.get("REDIS_URL") or DEFAULT_URL


def is_redis_trouble(error: BaseException) -> bool:
    """An error of Redis or of the way to it (exit status 1, one line), not a bug (a traceback)."""
    return isinstance(
        error, (redis.RedisError, redis.exceptions.RedisClusterException, OSError, RedisVersionError, AccessError)
    )


#: Errors that mean Redis answered and said no: a wrong password or user (``WRONGPASS``,
#: ``NOAUTH``), or a user without the right to connect. redis-py raises them as connection
#: errors, but trying again cannot help.
_REFUSALS = (redis.AuthenticationError, redis.exceptions.AuthorizationError)


def is_unreachable(error: BaseException) -> bool:
    """Redis could not be reached, or not yet: nothing listens, the name does not resolve, a
    timeout, a cut connection, a server still loading its data. Trying again may help, unlike a
    refusal (password, ACL), a server too old, or a bug."""
    return isinstance(error, (redis.ConnectionError, redis.TimeoutError, OSError)) and not isinstance(
        error, _REFUSALS
    )


def load_delegate(path: str) -> Any:
    """The object named by ``MODULE:ATTR``; a class is instantiated without arguments.

    Raises :class:`UsageError` naming what is wrong: the form, the module, the attribute, or an
    object that can run no job.
    """
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise UsageError(f"delegate must look like MODULE:ATTR, not {path!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise UsageError(f"cannot import {module_name!r}: {error}") from None
    try:
        target = module
        for part in attr.split("."):
            target = getattr(target, part)
    except AttributeError:
        raise UsageError(f"{module_name!r} has no attribute {attr!r}") from None
    if isinstance(target, type):
        target = target()
    if not callable(getattr(target, "call", None)) and not callable(target):
        raise UsageError(f"{path} is neither callable nor has a call(job) method")
    return target


def task_worker_argv(url: str, prefix: str, args: Sequence[str], flags: Sequence[str] = ()) -> List[str]:
    """The ``gjobs-worker`` command line of a framework's worker command (``flask gjobs worker``,
    ``manage.py gjobs_worker``): the task runner on the app's Redis and queue, then ``flags`` (its
    settings), then ``args``, the command's own, which win: ``--redis-url`` and ``--prefix`` are
    left out when ``args`` give theirs (or name queues with ``--queue``)."""
    argv = ["gjobs:TaskRunner"]
    if not any(arg.startswith("--redis-url") for arg in args):
        argv += ["--redis-url", url]
    if not any(arg.startswith(("--prefix", "--queue")) for arg in args):
        argv += ["--prefix", prefix]
    return [*argv, *flags, *args]
