"""Schedules: periodic jobs declared in code, fired exactly once per tick by whichever worker.

``@queue.periodic("0 3 * * *", tz="Europe/Berlin")`` or ``@gjobs.periodic(every=30)`` makes a
function a task and gives it a :class:`Schedule`; ``queue.periodic(every=60, name="sync",
job={...})`` declares a schedule for a plain delegate's job. Every schedule is kept in
:data:`schedules`, which a worker reads when it starts: the worker publishes what it knows and
fires it (see :mod:`gjobs.worker.scheduler`; the claim of a tick and the enqueue of its job are
one script, :mod:`gjobs.cron_table`).

Ticks: a cron expression (5 fields, or 6 with seconds first) is read by ``cronsim``, in ``tz``
(a ``zoneinfo`` name; UTC by default) with Debian cron's rules at daylight-saving changes: a
time skipped in spring fires once right after the change, a time repeated in autumn fires
once. ``every=`` ticks fall on multiples of the interval since the epoch (UTC), so that every
worker agrees on them whenever it started.
"""

from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from . import reserved
from .tasks import task as make_task

#: Seconds a tick may be late and still fire (a worker busy, or none running at the tick): past
#: that it is skipped and logged. A catch-up after downtime fires only the latest missed tick.
DEFAULT_GRACE = 300.0
#: Task options a schedule cannot carry: its job is made once, at declaration, and must not hold
#: a time (``expires``); ``overlap`` is what keeps a second run out (not ``unique_for``).
_REFUSED = ("expires", "unique_for")


class Schedule:
    """When and what to enqueue. Give ``cron`` or ``every`` (seconds or a ``timedelta``), and
    ``job`` (the job each tick enqueues; for a task, :meth:`Task.job` makes it).

    ``queue`` is the prefix its jobs go to (None: the first queue of the worker that fires it).
    ``overlap=False`` skips a tick while the previous run is still queued or running; ``grace``
    is how late a tick may fire. Bad values raise ``ValueError`` naming the schedule.
    """

    def __init__(
        self, name: str, job: Any, *, cron: Optional[str] = None, every: Union[float, _dt.timedelta, None] = None,
        tz: Optional[str] = None, queue: Optional[str] = None, overlap: bool = False, grace: float = DEFAULT_GRACE,
    ) -> None:
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"a schedule needs a name, not {name!r}")
        self.name = name
        if (cron is None) == (every is None):
            raise ValueError(f"schedule {name!r}: give a cron expression or every=, one of the two")
        if isinstance(every, _dt.timedelta):
            every = every.total_seconds()
        if every is not None:
            if isinstance(every, bool) or not isinstance(every, (int, float)) or not math.isfinite(every) or every <= 0:
                raise ValueError(f"schedule {name!r}: every must be a positive number of seconds, not {every!r}")
            if tz is not None:
                raise ValueError(f"schedule {name!r}: tz applies to cron expressions; every= counts seconds")
        self.cron = cron
        self.every = float(every) if every is not None else None
        self.tz = tz
        try:
            self.zone = ZoneInfo(tz) if tz is not None else _dt.timezone.utc
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"schedule {name!r}: unknown time zone {tz!r}") from None
        if cron is not None:
            if not isinstance(cron, str):
                raise ValueError(f"schedule {name!r}: a cron expression is a string, not {type(cron).__name__}")
            fields = len(cron.split())
            if fields not in (5, 6):
                raise ValueError(f"schedule {name!r}: {cron!r} has {fields} fields; cron takes 5, or 6 with seconds")
            try:
                CronSim(cron, _dt.datetime.now(self.zone))
            except (CronSimError, ValueError, KeyError, IndexError) as error:
                raise ValueError(f"schedule {name!r}: invalid cron expression {cron!r}: {error}") from None
        if isinstance(grace, bool) or not isinstance(grace, (int, float)) or not grace >= 0:
            raise ValueError(f"schedule {name!r}: grace must be a number of seconds, 0 or more, not {grace!r}")
        if queue is not None and not isinstance(queue, str):
            queue = getattr(queue, "prefix", queue)
        self.queue = queue
        self.job = job
        self.overlap = bool(overlap)
        self.grace = float(grace)

    # -- ticks ------------------------------------------------------------------------------------

    def next_after(self, moment: float) -> float:
        """The first tick strictly after ``moment`` (epoch seconds)."""
        if self.every is not None:
            return (math.floor(moment / self.every) + 1) * self.every
        assert self.cron is not None
        start = _dt.datetime.fromtimestamp(moment, self.zone)
        return next(CronSim(self.cron, start)).timestamp()

    def latest(self, moment: float) -> float:
        """The last tick at or before ``moment``."""
        if self.every is not None:
            return math.floor(moment / self.every) * self.every
        assert self.cron is not None
        start = _dt.datetime.fromtimestamp(math.floor(moment) + 1, self.zone)
        return next(CronSim(self.cron, start, reverse=True)).timestamp()

    def show(self, tick: float) -> str:
        """``tick`` as a time of day in the schedule's zone, for log lines."""
        return _dt.datetime.fromtimestamp(tick, self.zone).isoformat(timespec="seconds")

    # -- what is published ------------------------------------------------------------------------

    def definition(self) -> Dict[str, Any]:
        """What ``gjobs cron list`` shows, as the workers publish it."""
        task = self.job.get("task") if isinstance(self.job, dict) else None
        return {"cron": self.cron, "every": self.every, "tz": self.tz, "overlap": self.overlap,
                "grace": self.grace, "task": task}

    @classmethod
    def from_definition(cls, name: str, definition: Dict[str, Any]) -> "Schedule":
        """A schedule rebuilt from what a worker published (its job is not needed to tell ticks)."""
        return cls(name, None, cron=definition.get("cron"), every=definition.get("every"), tz=definition.get("tz"),
                   overlap=bool(definition.get("overlap")), grace=definition.get("grace", DEFAULT_GRACE))

    def same_as(self, other: "Schedule") -> bool:
        return (self.definition(), self.job, self.queue) == (other.definition(), other.job, other.queue)

    def __repr__(self) -> str:
        zone = f", tz={self.tz!r}" if self.tz else ""
        when = f"cron={self.cron!r}{zone}" if self.cron else f"every={self.every:g}"
        return f"<Schedule {self.name} {when}>"


class ScheduleRegistry:
    """Schedules by name. Declaring one name twice with two definitions is an error: both would
    claim the same ticks. Declaring it again the same (a module imported twice) is not."""

    def __init__(self) -> None:
        self._schedules: Dict[str, Schedule] = {}

    def add(self, schedule: Schedule) -> Schedule:
        known = self._schedules.get(schedule.name)
        if known is not None and not known.same_as(schedule):
            raise ValueError(f"two schedules named {schedule.name!r}: {known!r} and {schedule!r}; give one a name=")
        self._schedules[schedule.name] = schedule
        return schedule

    def remove(self, name: str) -> None:
        self._schedules.pop(name, None)

    def all(self) -> List[Schedule]:
        return list(self._schedules.values())

    def __len__(self) -> int:
        return len(self._schedules)


#: Every schedule declared in this process; a worker fires these unless told otherwise.
schedules = ScheduleRegistry()


def periodic(
    cron: Optional[str] = None, *, every: Union[float, _dt.timedelta, None] = None, tz: Optional[str] = None,
    name: Optional[str] = None, args: Tuple[Any, ...] = (), kwargs: Optional[Dict[str, Any]] = None, job: Any = None,
    queue: Any = None, overlap: bool = False, grace: float = DEFAULT_GRACE,
    registry: Optional[ScheduleRegistry] = None, **task_options: Any,
) -> Any:
    """Declare a schedule: ``@gjobs.periodic("*/5 * * * *")`` on a function makes it a task (with
    ``task_options``: ``max_attempts``, ``timeout``, ``result_ttl``, ``backoff``, ``retry_on``)
    run with ``args`` and ``kwargs`` at every tick; returns the task. With ``job=`` (and a
    ``name``) it declares a schedule for that job, for a plain delegate, and returns the
    :class:`Schedule`. ``queue`` (a Queue or a prefix) is where the jobs go.
    """
    refused = [option for option in _REFUSED if option in task_options]
    if refused:
        raise TypeError(f"periodic jobs take no {', '.join(refused)}: "
                        "a tick's job is made once, and overlap=False keeps a second run out")
    where = registry if registry is not None else schedules
    prefix = queue if queue is None or isinstance(queue, str) else queue.prefix
    if job is not None:
        if name is None:
            raise ValueError("a schedule of a job (job=...) needs a name=")
        if task_options or args or kwargs:
            raise TypeError("job= is the whole job: task options, args and kwargs belong to a decorated function")
        if not isinstance(job, dict):
            raise TypeError(f"schedule {name!r}: a job must be a dict, not {type(job).__name__}")
        reserved.check(job)
        if "scheduled_at" in job or "expires" in job or "unique_key" in job:
            raise TypeError(f"schedule {name!r}: a periodic job carries no scheduled_at, expires or unique_key")
        return where.add(Schedule(name, job, cron=cron, every=every, tz=tz, queue=prefix, overlap=overlap, grace=grace))
    # Check the schedule before the function is touched, so that a bad one names itself first.
    Schedule(name or "?", None, cron=cron, every=every, tz=tz, overlap=overlap, grace=grace)

    def declare(fn: Callable[..., Any]) -> Any:
        made = make_task(fn, name=name, queue=queue, **task_options)
        where.add(Schedule(made.name, made.job(args, kwargs), cron=cron, every=every, tz=tz, queue=prefix,
                           overlap=overlap, grace=grace))
        return made

    return declare
