"""Django: settings, tasks found in installed apps, ``manage.py gjobs_worker``, enqueue on commit,
and database connections handled around each job.

Add ``"gjobs.contrib.django"`` to ``INSTALLED_APPS`` and, in settings::

    GJOBS = {"url": "redis://localhost:6379/0", "prefix": "gjobs", "worker": {"concurrency": 25}}

When Django is ready, the app makes that queue the default one (``@gjobs.task`` tasks enqueue
there), imports the ``tasks`` module of every installed app, and installs
:class:`DatabaseConnections`, which closes the connections a job leaves unusable or past their
``CONN_MAX_AGE`` before and after each job, as Django does around each request (the worker
reuses greenlets across jobs, so nothing else would). ``manage.py gjobs_worker`` takes
``gjobs-worker``'s flags. ``task.delay_on_commit(...)`` enqueues when the current transaction
commits (nothing if it rolls back), so a job never runs before the row it reads exists.
"""

from __future__ import annotations

import contextlib
from typing import Any, Dict, Iterator, List, Optional

from ...cli.common import task_worker_argv
from ...middleware import JobContext, Middleware


class DatabaseConnections(Middleware):
    """``close_old_connections()`` before and after each job."""

    @contextlib.contextmanager
    def around(self, job: JobContext) -> Iterator[None]:
        from django.db import close_old_connections

        close_old_connections()
        try:
            yield
        finally:
            close_old_connections()


def settings() -> Dict[str, Any]:
    """The ``GJOBS`` setting, checked: a dict with ``url``, ``prefix`` and ``worker`` at most."""
    from django.conf import settings as django_settings
    from django.core.exceptions import ImproperlyConfigured

    value = getattr(django_settings, "GJOBS", {})
    if not isinstance(value, dict):
        raise ImproperlyConfigured(f"GJOBS must be a dict, not {type(value).__name__}")
    unknown = set(value) - {"url", "prefix", "worker"}
    if unknown:
        raise ImproperlyConfigured(f"GJOBS has unknown keys {sorted(unknown)}; it takes url, prefix and worker")
    if not isinstance(value.get("worker", {}), dict):
        raise ImproperlyConfigured("GJOBS['worker'] must be a dict of worker options")
    return value


_queue: Optional[Any] = None


def queue() -> Any:
    """The queue of the ``GJOBS`` setting (made when Django is ready)."""
    if _queue is None:
        raise RuntimeError("gjobs.contrib.django is not ready: add it to INSTALLED_APPS")
    return _queue


def set_queue(made: Any) -> None:
    global _queue
    _queue = made


def worker_argv(args: Any) -> List[str]:
    """The ``gjobs-worker`` command line for ``manage.py gjobs_worker ARGS``: the task runner, the
    setting's Redis, queue and worker options (as flags), then ARGS, which win."""
    chosen = settings()
    flags: List[str] = []
    for name, value in chosen.get("worker", {}).items():
        flag = "--" + name.replace("_", "-")
        if value is True:
            flags.append(flag)
        elif value is not False and value is not None:
            flags += [flag, str(value)]
    return task_worker_argv(queue_url(chosen), str(chosen.get("prefix", "gjobs")), args, flags)


def queue_url(chosen: Dict[str, Any]) -> str:
    from ...connection import DEFAULT_URL

    return str(chosen.get("url", DEFAULT_URL))
