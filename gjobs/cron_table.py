"""The schedules of one queue in Redis: what the workers declare, each one's last tick and job,
and which are paused.

The workers that know a schedule declare it (``cron_declare.lua``: definition, encoded job, and
a lease renewed while they run) and fire its ticks (``cron_fire.lua``: the claim of a tick and
the enqueue of its job in one script, so any number of workers fire each tick once). A
schedule no running worker declares stops firing at once (only workers that know it fire it)
and leaves the listing when its lease runs out. ``Queue.schedules`` is this table.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import scripts
from .ids import new_id
from .keys import Keys, text
from .lookup import Lookup
from .schedule import Schedule

#: Ticks fired per script call at most.
FIRE_BATCH = 100
#: Schedules declared per script call at most.
DECLARE_BATCH = 200


class UnknownSchedule(LookupError):
    """No running worker declares a schedule of that name on this queue."""


@dataclass
class ScheduleInfo:
    """One schedule as ``gjobs cron list`` shows it. Times are epoch seconds."""

    name: str
    cron: Optional[str]
    every: Optional[float]
    tz: Optional[str]
    task: Optional[str]
    overlap: bool
    grace: float
    paused: bool
    next_at: Optional[float]
    last_at: Optional[float]
    last_job: Optional[str]
    last_state: Optional[str]
    declared_until: Optional[float]

    def as_dict(self) -> Dict[str, Any]:
        return asdict(self)


class CronTable:
    """The schedules of queue ``keys`` through ``client``; ``coder`` decodes nothing here, but
    the lookup of a schedule's last job uses it."""

    def __init__(self, client: Any, keys: Keys, coder: Any = None) -> None:
        self.client = client
        self.keys = keys
        self.coder = coder
        self._declare = scripts.register(client, "cron_declare")
        self._fire = scripts.register(client, "cron_fire")
        self._run = scripts.register(client, "cron_run")

    # -- the workers' side ----------------------------------------------------------------------

    def declare(
        self, entries: Sequence[Tuple[str, str, bytes]], lease: float,
    ) -> Tuple[float, Dict[str, Optional[float]]]:
        """Publish ``(name, definition JSON, payload)`` entries for ``lease`` seconds. Returns
        Redis's time and each name's last tick handled (None: it never ticked)."""
        keys = [self.keys.cron, self.keys.cron_payloads, self.keys.cron_leases, self.keys.cron_last]
        now, lasts = 0.0, {}
        for start in range(0, max(1, len(entries)), DECLARE_BATCH):
            chunk = entries[start:start + DECLARE_BATCH]
            args: List[Any] = [repr(float(lease))]
            for entry in chunk:
                args.extend(entry)
            reply_now, reply_lasts = self._declare(keys=keys, args=args)
            now = float(reply_now)
            for (name, _, _), last in zip(chunk, reply_lasts):
                lasts[name] = None if last is None else float(last)
        return now, lasts

    def fire(self, ticks: Sequence[Tuple[str, float, float, bool, str, bytes]]) -> Tuple[float, List[str]]:
        """Claim ``(name, tick, grace, overlap, id, payload)`` ticks (at most :data:`FIRE_BATCH`)
        and enqueue the jobs of those claimed in time. Returns Redis's time and one outcome per
        tick (see ``cron_fire.lua``)."""
        keys = self.keys
        args: List[Any] = []
        for name, tick, grace, overlap, job_id, payload in ticks:
            args.extend((name, repr(float(tick)), repr(float(grace)), "1" if overlap else "0", job_id, payload))
        now, outcomes = self._fire(
            keys=[keys.cron_last, keys.cron_jobs, keys.cron_paused, keys.jobs, keys.ready, keys.dead], args=args,
        )
        return float(now), [text(outcome) for outcome in outcomes]

    # -- seeing and steering ----------------------------------------------------------------------

    def run(self, name: str, job_id: Optional[str] = None) -> str:
        """Enqueue schedule ``name``'s job now, once; returns its id. Raises :class:`UnknownSchedule`."""
        keys = self.keys
        job_id = job_id or new_id()
        declared = [keys.cron_payloads, keys.cron_jobs, keys.jobs, keys.ready, keys.cron_leases]
        if not int(self._run(keys=declared, args=[name, job_id])):
            raise self._unknown(name)
        return job_id

    def pause(self, name: str) -> None:
        """Make the schedule's ticks skip (logged by the worker that claims them) until resumed."""
        self._known(name)
        self.client.sadd(self.keys.cron_paused, name)

    def resume(self, name: str) -> None:
        self._known(name)
        self.client.srem(self.keys.cron_paused, name)

    def count(self) -> int:
        """Schedules declared by running workers (as of their last declaration)."""
        return int(self.client.zcard(self.keys.cron_leases))

    def list(self, now: Optional[float] = None) -> List[ScheduleInfo]:
        """Every schedule a running worker declares, by name; ``next_at`` is computed from ``now``
        (Redis's time by default)."""
        keys = self.keys
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(keys.cron)
        pipe.zrange(keys.cron_leases, 0, -1, withscores=True)
        pipe.hgetall(keys.cron_last)
        pipe.hgetall(keys.cron_jobs)
        pipe.smembers(keys.cron_paused)
        pipe.time()
        definitions, leases, lasts, jobs, paused, (seconds, micros) = pipe.execute()
        if now is None:
            now = seconds + micros / 1e6
        until = {text(name): score for name, score in leases}
        lasts = {text(name): float(value) for name, value in lasts.items()}
        jobs = {text(name): text(value) for name, value in jobs.items()}
        paused = {text(name) for name in paused}
        lookup = Lookup(self.client, keys, self.coder)
        found = []
        for raw_name, raw in sorted(definitions.items()):
            name = text(raw_name)
            if until.get(name, now) < now:
                continue  # no running worker declares it any more: the next declaration forgets it
            definition = json.loads(raw)
            try:
                next_at: Optional[float] = Schedule.from_definition(name, definition).next_after(now)
            except ValueError:
                next_at = None  # declared by a worker that knows a time zone this one does not
            last_job = jobs.get(name)
            found.append(ScheduleInfo(
                name=name, cron=definition.get("cron"), every=definition.get("every"), tz=definition.get("tz"),
                task=definition.get("task"), overlap=bool(definition.get("overlap")),
                grace=float(definition.get("grace", 0)), paused=name in paused, next_at=next_at,
                last_at=lasts.get(name), last_job=last_job,
                last_state=lookup.job(last_job).state if last_job else None, declared_until=until.get(name),
            ))
        return found

    def _known(self, name: str) -> None:
        """Raise :class:`UnknownSchedule` unless a running worker declares ``name`` (its lease
        has not run out by Redis's clock)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.zscore(self.keys.cron_leases, name)
        pipe.time()
        declared, (seconds, micros) = pipe.execute()
        if declared is None or declared < seconds + micros / 1e6:
            raise self._unknown(name)

    def _unknown(self, name: str) -> UnknownSchedule:
        return UnknownSchedule(f"no schedule {name!r} on queue {self.keys.prefix!r}: no running worker declares it")
