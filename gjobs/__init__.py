"""gjobs: a Redis-backed job processor for synchronous Python code running under gevent.

The public names are imported on first use (PEP 562), so that ``gjobs-worker`` and
``python -m gjobs`` can monkey-patch with gevent before redis-py, ssl or threading are imported.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, List

__version__ = "0.1.0"

# public name -> the module that defines it
_EXPORTS = {
    "Server": "gjobs.server",
    "MultiServer": "gjobs.multi_server",
    "Worker": "gjobs.worker",
    "JobCancelled": "gjobs.worker.runner",
    "current_job": "gjobs.current",
    "JobInfo": "gjobs.lookup",
    "JobFailed": "gjobs.lookup",
    "UnknownJob": "gjobs.lookup",
    "AccessError": "gjobs.access",
    "JobTimeout": "gjobs.server",
    "Queue": "gjobs.queue",
    "EnqueueError": "gjobs.queue",
    "Buffer": "gjobs.buffer",
    "JSONCoder": "gjobs.coder",
    "parse_time": "gjobs.coder",
    "format_count": "gjobs.format",
    "RetryPolicy": "gjobs.retries",
    "default_backoff": "gjobs.retries",
    "DeadJob": "gjobs.dead_set",
    "connect": "gjobs.connection",
    "RedisVersionError": "gjobs.connection",
    "NotReplicatedError": "gjobs.connection",
    "Unretryable": "gjobs.retries",
    "task": "gjobs.tasks",
    "Task": "gjobs.tasks",
    "TaskRunner": "gjobs.tasks",
    "UnknownTask": "gjobs.tasks",
    "set_default_queue": "gjobs.tasks",
    "periodic": "gjobs.schedule",
    "Middleware": "gjobs.middleware",
    "JobContext": "gjobs.middleware",
    "use": "gjobs.middleware",
    "Schedule": "gjobs.schedule",
    "ScheduleInfo": "gjobs.cron_table",
    "UnknownSchedule": "gjobs.cron_table",
}

__all__ = [
    "AccessError",
    "Buffer",
    "DeadJob",
    "EnqueueError",
    "JSONCoder",
    "JobCancelled",
    "JobFailed",
    "JobContext",
    "JobInfo",
    "JobTimeout",
    "Middleware",
    "MultiServer",
    "NotReplicatedError",
    "Queue",
    "RedisVersionError",
    "RetryPolicy",
    "Schedule",
    "ScheduleInfo",
    "Server",
    "Task",
    "TaskRunner",
    "UnknownJob",
    "UnknownSchedule",
    "UnknownTask",
    "Unretryable",
    "Worker",
    "__version__",
    "connect",
    "current_job",
    "default_backoff",
    "format_count",
    "parse_time",
    "periodic",
    "set_default_queue",
    "task",
    "use",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gjobs' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> List[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover
    from .access import AccessError
    from .buffer import Buffer
    from .coder import JSONCoder, parse_time
    from .connection import NotReplicatedError, RedisVersionError, connect
    from .current import current_job
    from .dead_set import DeadJob
    from .format import format_count
    from .lookup import JobFailed, JobInfo, UnknownJob
    from .multi_server import MultiServer
    from .queue import EnqueueError, Queue
    from .retries import RetryPolicy, Unretryable, default_backoff
    from .server import JobTimeout, Server
    from .tasks import Task, TaskRunner, UnknownTask, set_default_queue, task
    from .worker import Worker
    from .worker.runner import JobCancelled
