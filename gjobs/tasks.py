"""Tasks: plain functions run as jobs, named by their import path.

``@gjobs.task`` (or ``@queue.task``) registers a function under ``"module:qualname"`` and gives
it ``delay``, ``enqueue_at`` and ``enqueue_in``, which store a JSON job such as
``{"task": "app.mail:send", "args": ["ann@example.com"], "kwargs": {"subject": "Hi"}}``.
Calling the function still runs it inline. :class:`TaskRunner` is the delegate that runs such
jobs by name in a worker.

A worker never imports a module because a job names it: payloads come from a shared Redis, so
the runner looks names up only among tasks already registered, by modules the application
imported itself or the worker was told to import (``gjobs-worker --import app.tasks``).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
from typing import Any, Callable, Dict, Iterable, List, NamedTuple, Optional, Protocol, Tuple, Union, cast

from . import clock
from .arguments import check_json, survives_json
from .lookup import JobHandle
from .retries import Unretryable
from .validate import optional_positive

logger = logging.getLogger("gjobs")

class TaskPolicy(NamedTuple):
    """A task's own failure policy: its ``backoff`` and the errors it retries (``retry_on``)."""

    backoff: Optional[Callable[[int], float]]
    retry_on: Optional[Tuple[type, ...]]


class UnknownTask(Unretryable):
    """A job names a task that no imported module registered: it can never succeed here."""


class TaskRegistry:
    """Tasks by name. The module-level :data:`registry` is the one ``@gjobs.task`` fills."""

    def __init__(self) -> None:
        self._tasks: Dict[str, "Task"] = {}

    def add(self, task: "Task") -> None:
        previous = self._tasks.get(task.name)
        if previous is not None and previous.fn is not task.fn:
            # A reloaded module (a development server's autoreload) defines the function again.
            logger.debug("task %s registered again; the newest definition wins", task.name)
        self._tasks[task.name] = task

    def get(self, name: str) -> Optional["Task"]:
        return self._tasks.get(name)

    def names(self) -> List[str]:
        return sorted(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __len__(self) -> int:
        return len(self._tasks)


#: Every task registered with ``@gjobs.task`` or ``@queue.task`` in this process.
registry = TaskRegistry()
_GLOBAL_REGISTRY = registry

class QueueLike(Protocol):
    """What a task needs of a queue (a :class:`gjobs.Queue` has it). Tasks depend on this face
    only, so that the queue module can offer ``@queue.task`` without the two importing each
    other."""

    @property
    def prefix(self) -> str: ...

    def enqueue(self, job: Dict[str, Any]) -> str: ...

    def enqueue_at(self, job: Dict[str, Any], when: Any) -> str: ...

    def enqueue_in(self, job: Dict[str, Any], delay: Any) -> str: ...

    def sibling(self, prefix: str) -> QueueLike: ...


_default_queue: Optional[QueueLike] = None
#: When set (by :func:`gjobs.testing.eager`), enqueueing a task runs it inline through this.
eager_runner: Optional[Callable[["Task", Tuple[Any, ...], Dict[str, Any]], str]] = None
_derived: Dict[Tuple[int, str], QueueLike] = {}


def set_default_queue(queue: Optional[QueueLike]) -> None:
    """Where tasks not bound to a queue send their jobs (None to forget it).

    A task with a ``queue`` name of its own uses the same Redis and coder with that prefix.
    """
    global _default_queue
    _default_queue = queue
    _derived.clear()


def default_queue() -> Optional[QueueLike]:
    """The queue set by :func:`set_default_queue`, or None."""
    return _default_queue


class Task:
    """A function registered as a task. Build it with :func:`task` or :meth:`Queue.task`.

    ``name`` is ``"module:qualname"`` unless given. ``queue`` is a :class:`~gjobs.Queue` or a
    queue prefix (the default queue's Redis is used with it); ``max_attempts`` and ``timeout``
    (seconds) are written into every job and override the worker's for it. ``result_ttl``
    (seconds) keeps each run's return value for ``queue.result(id)``; ``unique_for`` (seconds)
    keeps a second job with the same arguments out while one is queued or running (its key is
    the task name and a hash of the arguments), for that long at most; ``expires`` (seconds)
    drops a job not started that long after ``delay()``; ``backoff`` (``callable(attempt) ->
    seconds``) and ``retry_on`` (exception classes: others are not retried) replace the worker's
    failure policy for this task.
    """

    def __init__(
        self,
        fn: Callable[..., Any],
        name: Optional[str] = None,
        queue: Union[QueueLike, str, None] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
        result_ttl: Optional[float] = None,
        unique_for: Optional[float] = None,
        expires: Optional[float] = None,
        backoff: Optional[Callable[[int], float]] = None,
        retry_on: Optional[Tuple[type, ...]] = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"a task must be a function, not {type(fn).__name__}")
        optional_positive("max_attempts", max_attempts, integer=True)
        optional_positive("timeout", timeout)
        optional_positive("result_ttl", result_ttl)
        optional_positive("unique_for", unique_for)
        optional_positive("expires", expires)
        if backoff is not None and not callable(backoff):
            raise TypeError("backoff must be a callable taking the attempt number")
        if retry_on is not None:
            retry_on = tuple(retry_on) if isinstance(retry_on, (tuple, list)) else (retry_on,)
            if not retry_on or not all(isinstance(kind, type) and issubclass(kind, BaseException) for kind in retry_on):
                raise TypeError(f"retry_on must be exception classes, not {retry_on!r}")
        if queue is not None and not isinstance(queue, str) and not hasattr(queue, "enqueue"):
            raise TypeError(f"queue must be a gjobs.Queue or a queue prefix, not {type(queue).__name__}")
        self.fn = fn
        self.name = name or _import_path(fn)
        self.queue = queue
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.result_ttl = result_ttl
        self.unique_for = unique_for
        self.expires = expires
        #: The failure policy of this task's jobs (None: the worker's), for :class:`TaskRunner`.
        self.policy = TaskPolicy(backoff, retry_on) if backoff is not None or retry_on is not None else None
        self.signature = inspect.signature(fn)
        self.__doc__ = fn.__doc__
        self.__name__ = getattr(fn, "__name__", self.name)
        self.__qualname__ = getattr(fn, "__qualname__", self.__name__)
        self.__module__ = cast(str, getattr(fn, "__module__", None))
        self.__wrapped__ = fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Run the function here and now, as if it were not a task."""
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    # -- enqueueing ---------------------------------------------------------------------------

    def job(self, args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
        """The job that runs this task with ``args`` and ``kwargs``; nothing is written.

        Raises ``TypeError`` when the function does not take these arguments, or when an
        argument would not come back the same from JSON (the error names the argument).
        """
        kwargs = dict(kwargs or {})
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self.name}: {error}") from None
        job: Dict[str, Any] = {"task": self.name, "args": list(args), "kwargs": kwargs}
        if not survives_json([job["args"], kwargs]):
            self._name_the_bad_argument(bound)
        if self.max_attempts is not None:
            job["max_attempts"] = self.max_attempts
        if self.timeout is not None:
            job["timeout"] = self.timeout
        if self.result_ttl is not None:
            job["result_ttl"] = self.result_ttl
        if self.unique_for is not None:
            arguments = json.dumps([job["args"], kwargs], sort_keys=True, separators=(",", ":"))
            job["unique_key"] = f"{self.name}:{hashlib.sha1(arguments.encode()).hexdigest()}"
            job["unique_for"] = self.unique_for
        if self.expires is not None:
            job["expires"] = clock.now() + self.expires
        return job

    def _name_the_bad_argument(self, bound: inspect.BoundArguments) -> None:
        for name, value in bound.arguments.items():
            kind = self.signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                start = len(bound.args) - len(value)
                for offset, item in enumerate(value):
                    check_json(self.name, f"positional argument {start + offset}", item)
            elif kind is inspect.Parameter.VAR_KEYWORD:
                for key, item in value.items():
                    check_json(self.name, f"argument {key!r}", item)
            else:
                check_json(self.name, f"argument {name!r}", value)

    def delay(self, *args: Any, **kwargs: Any) -> str:
        """Enqueue a run of this task now; returns the job id (a :class:`~gjobs.lookup.JobHandle`:
        a ``str`` with ``info()``, ``result()`` and ``cancel()``)."""
        if eager_runner is not None:
            return eager_runner(self, args, kwargs)
        target = self.target()
        return JobHandle(target.enqueue(self.job(args, kwargs)), target)

    def delay_on_commit(self, *args: Any, **kwargs: Any) -> None:
        """Enqueue a run when the current Django transaction commits (at once outside one), never
        if it rolls back, so the job cannot run before the rows it reads exist. The arguments
        are checked now. Needs Django (``gjobs.contrib.django``)."""
        from django.db import transaction

        self.job(args, kwargs)  # bad arguments fail here, in the request, not at the commit
        transaction.on_commit(lambda: self.delay(*args, **kwargs))

    def enqueue_at(self, when: Any, *args: Any, **kwargs: Any) -> str:
        """Enqueue a run at ``when`` (a datetime, an epoch number or an ISO-8601 string)."""
        if eager_runner is not None:
            return eager_runner(self, args, kwargs)
        target = self.target()
        return JobHandle(target.enqueue_at(self.job(args, kwargs), when), target)

    def enqueue_in(self, delay: Any, *args: Any, **kwargs: Any) -> str:
        """Enqueue a run after ``delay`` (seconds or a ``timedelta``)."""
        if eager_runner is not None:
            return eager_runner(self, args, kwargs)
        target = self.target()
        return JobHandle(target.enqueue_in(self.job(args, kwargs), delay), target)

    def target(self) -> QueueLike:
        """The queue this task's jobs go to. Raises ``RuntimeError`` when there is none."""
        if self.queue is not None and not isinstance(self.queue, str):
            return self.queue
        default = _default_queue
        if default is None:
            raise RuntimeError(
                f"task {self.name} has no queue: define it with @queue.task, or call "
                "gjobs.set_default_queue(queue) when the application starts"
            )
        if self.queue is None or self.queue == default.prefix:
            return default
        key = (id(default), self.queue)
        queue = _derived.get(key)
        if queue is None:
            queue = _derived[key] = default.sibling(self.queue)
        return queue


def task(
    fn: Optional[Callable[..., Any]] = None,
    *,
    name: Optional[str] = None,
    queue: Union[QueueLike, str, None] = None,
    max_attempts: Optional[int] = None,
    timeout: Optional[float] = None,
    **options: Any,
) -> Any:
    """Register ``fn`` as a task: ``@gjobs.task`` or ``@gjobs.task(max_attempts=3, timeout=30)``.

    Returns a :class:`Task`, which calls ``fn`` when called and has ``delay``, ``enqueue_at``
    and ``enqueue_in``. Options: ``name`` (default ``"module:qualname"``), ``queue`` (a
    :class:`~gjobs.Queue` or a prefix; default: the one set by :func:`set_default_queue`),
    ``max_attempts`` and ``timeout`` in seconds (default: the worker's); ``result_ttl``,
    ``unique_for``, ``expires``, ``backoff`` and ``retry_on`` as :class:`Task` says.
    """

    def register(function: Callable[..., Any]) -> Task:
        made = Task(function, name=name, queue=queue, max_attempts=max_attempts, timeout=timeout, **options)
        registry.add(made)
        return made

    return register if fn is None else register(fn)


def _import_path(fn: Callable[..., Any]) -> str:
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None)
    if not module or not qualname:
        raise ValueError(f"cannot name task {fn!r}: pass name='module:function'")
    if module == "__main__" or "<locals>" in qualname or "<lambda>" in qualname:
        raise ValueError(
            f"task {qualname} is defined in {module if module == '__main__' else 'a function'}, so a "
            "worker cannot find it by its import path; define it at the top level of a module it "
            "imports, or pass name='module:function'"
        )
    return f"{module}:{qualname}"


class TaskRunner:
    """The delegate that runs task jobs: ``{"task": "mod:fn", "args": [...], "kwargs": {...}}``.

    It imports ``imports`` (module names) when built, and then finds tasks only in ``registry``
    (the global one by default): it never imports what a job names. A job that names an unknown
    task, is not a task job, or has arguments the function does not take raises
    :class:`~gjobs.Unretryable` (:class:`UnknownTask` for the first), so it goes to the dead set
    at once instead of being retried.

    With ``gjobs-worker``: ``gjobs-worker --import app.tasks`` (the runner is the default
    delegate when modules are imported), or ``gjobs-worker gjobs:TaskRunner --import app.tasks``.
    """

    def __init__(self, imports: Iterable[str] = (), registry: Optional[TaskRegistry] = None) -> None:
        self.registry = registry if registry is not None else _GLOBAL_REGISTRY
        self.imports = list(imports)
        for module in self.imports:
            importlib.import_module(module)

    def call(self, job: Any) -> Any:
        if not isinstance(job, dict) or not isinstance(job.get("task"), str):
            raise Unretryable("not a task job: it has no 'task' name (TaskRunner runs only task jobs)")
        name = job["task"]
        found = self.registry.get(name)
        if found is None:
            raise UnknownTask(self._unknown(name))
        args, kwargs = job.get("args", []), job.get("kwargs", {})
        if not isinstance(args, list) or not isinstance(kwargs, dict):
            raise Unretryable(f"task {name}: 'args' must be a list and 'kwargs' an object")
        try:
            found.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise Unretryable(f"task {name} cannot take these arguments: {error}") from None
        return found.fn(*args, **kwargs)

    def policy_for(self, job: Dict[str, Any]) -> Optional[TaskPolicy]:
        """The failure policy of the task ``job`` names, if it has one of its own."""
        found = self.registry.get(cast(str, job.get("task"))) if isinstance(job.get("task"), str) else None
        return found.policy if found is not None else None

    def _unknown(self, name: str) -> str:
        module = name.partition(":")[0]
        known = self.registry.names()
        listed = ", ".join(known[:10]) + (", ..." if len(known) > 10 else "") if known else "none"
        return (
            f"unknown task {name!r}: no module imported by this worker registered it "
            f"(start the worker with --import {module}); registered tasks: {listed}"
        )
