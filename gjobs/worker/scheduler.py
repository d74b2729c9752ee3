"""The scheduler of a worker: declares the schedules it knows and fires their ticks.

One greenlet sleeps until the next tick of all its schedules (a heap, so 1,000 schedules cost
nothing while no tick is due), then fires every tick due, grouped per queue, in one script call
per queue and :data:`~gjobs.cron_table.FIRE_BATCH` ticks. Every worker that knows a schedule
does the same; the script hands each tick to one of them. Ticks are judged by Redis's clock:
the worker sleeps by its own clock corrected by the offset to Redis's that every reply brings,
and a tick that Redis says is not due yet is waited for again, so a worker whose clock is off
neither fires early nor twice.

A tick's job has an id made of the tick and the schedule (:func:`~gjobs.ids.tick_id`): the
same whoever fires it, and ``queue.job(id)`` reads it as enqueued at its tick.

At start, a schedule whose latest tick came after the last one handled (no worker ran then)
fires that one tick, if within its ``grace``; older missed ticks are never fired.
"""

from __future__ import annotations

import heapq
import json
import logging
from itertools import count
from typing import Any, Dict, List, Sequence, Set, Tuple

import gevent

from .. import clock, reserved
from ..cron_table import FIRE_BATCH, CronTable
from ..ids import tick_id
from ..keys import Keys
from ..queue import Queue
from ..schedule import Schedule
from .loop import Loop

logger = logging.getLogger("gjobs")

#: Seconds between two declarations of a worker's schedules (renewing their leases).
DECLARE_EVERY = 20.0
#: Seconds a declaration lasts: a schedule no running worker declares leaves ``cron list`` this
#: long after the last worker that knew it stopped.
LEASE = 3 * DECLARE_EVERY


class Scheduler:
    """Fires ``schedules`` for worker ``worker_id``; a schedule without a queue of its own sends
    its jobs to ``default_prefix``. Each job is encoded once, here, with ``coder``."""

    def __init__(self, client: Any, coder: Any, schedules: Sequence[Schedule], default_prefix: str,
                 worker_id: str) -> None:
        self.worker_id = worker_id
        self.tables: Dict[str, CronTable] = {}
        #: per queue, by schedule name: (schedule, definition JSON, payload)
        self.entries: Dict[str, Dict[str, Tuple[Schedule, str, bytes]]] = {}
        for schedule in schedules:
            prefix = schedule.queue or default_prefix
            if prefix not in self.tables:
                self.tables[prefix] = CronTable(client, Keys(prefix), coder)
                self.entries[prefix] = {}
            # Encoded once, without the producers' middleware: a header made now (a trace
            # context) would be stale on every tick.
            payload = Queue(client, prefix, coder).encode(schedule.job)
            reserved.check(schedule.job)
            self.entries[prefix][schedule.name] = (schedule, json.dumps(schedule.definition()), payload)
        self._heap: List[Tuple[float, int, str, Schedule]] = []
        self._order = count()
        self._offset = 0.0  # Redis's clock minus this host's, from the last reply
        self._declare_due = 0.0
        self._scheduled: Set[str] = set()  # the queues whose schedules' next ticks are planned
        self.loop = Loop("scheduler", worker_id, self.step)

    @property
    def count(self) -> int:
        return sum(len(group) for group in self.entries.values())

    def redis_now(self) -> float:
        """This host's clock corrected to Redis's, as of the last reply."""
        return clock.now() + self._offset

    def step(self) -> None:
        if clock.monotonic() >= self._declare_due:
            with self.loop.in_call:
                self.declare()
            self._declare_due = clock.monotonic() + DECLARE_EVERY
        wait = self.fire_due()
        if wait > 0:
            gevent.sleep(min(wait, max(0.0, self._declare_due - clock.monotonic())))

    def declare(self) -> None:
        """Publish every schedule (renewing its lease); the first time, plan each one's next tick."""
        for prefix, group in self.entries.items():
            entries = [(schedule.name, definition, payload) for schedule, definition, payload in group.values()]
            now, lasts = self.tables[prefix].declare(entries, LEASE)
            self._offset = now - clock.now()
            if prefix in self._scheduled:
                continue
            self._scheduled.add(prefix)
            for schedule, _, _ in group.values():
                last, latest = lasts.get(schedule.name), schedule.latest(now)
                if last is not None and latest > last:
                    self._push(latest, prefix, schedule)  # missed while no worker ran: the latest, once
                else:
                    self._push(schedule.next_after(now), prefix, schedule)

    def fire_due(self) -> float:
        """Fire every tick due now by Redis's clock; returns the seconds until the next one."""
        now = self.redis_now()
        due: Dict[str, List[Tuple[float, Schedule]]] = {}
        while self._heap and self._heap[0][0] <= now:
            tick, _, prefix, schedule = heapq.heappop(self._heap)
            due.setdefault(prefix, []).append((tick, schedule))
        batches = [(prefix, ticks[start:start + FIRE_BATCH])
                   for prefix, ticks in due.items() for start in range(0, len(ticks), FIRE_BATCH)]
        for done, (prefix, batch) in enumerate(batches):
            try:
                self._fire(prefix, batch)
            except BaseException:  # this batch was put back; so are those not tried yet
                for later_prefix, later in batches[done + 1:]:
                    for tick, schedule in later:
                        self._push(tick, later_prefix, schedule)
                raise
        if not self._heap:
            return DECLARE_EVERY
        return self._heap[0][0] - self.redis_now()

    def _fire(self, prefix: str, ticks: List[Tuple[float, Schedule]]) -> None:
        table = self.tables[prefix]
        group = self.entries[prefix]
        calls = [(s.name, tick, s.grace, s.overlap, tick_id(s.name, tick), group[s.name][2])
                 for tick, s in ticks]
        try:
            with self.loop.in_call:
                now, outcomes = table.fire(calls)
        except BaseException:
            for tick, schedule in ticks:  # none of them was claimed by this call: try them again
                self._push(tick, prefix, schedule)
            raise
        self._offset = now - clock.now()
        for (tick, schedule), (_, _, _, _, job_id, _), outcome in zip(ticks, calls, outcomes):
            if outcome == "early":
                self._push(tick, prefix, schedule)
                continue
            self._log(schedule, tick, outcome, job_id, now)
            following = schedule.next_after(tick)
            if following <= now:  # this worker fell behind by more than a tick: the latest, once
                following = schedule.latest(now)
            self._push(following, prefix, schedule)

    def _log(self, schedule: Schedule, tick: float, outcome: str, job_id: str, now: float) -> None:
        when = schedule.show(tick)
        if outcome == "fired":
            logger.debug("schedule %s: tick %s enqueued job %s", schedule.name, when, job_id)
        elif outcome == "late":
            logger.warning("schedule %s: tick %s missed (%.0f s late, grace %g s); skipped",
                           schedule.name, when, now - tick, schedule.grace)
        elif outcome == "overlap":
            logger.info("schedule %s: tick %s skipped: its previous job is still queued or running "
                        "(overlap=True allows it)", schedule.name, when)
        elif outcome == "paused":
            logger.info("schedule %s: tick %s skipped: the schedule is paused", schedule.name, when)

    def _push(self, tick: float, prefix: str, schedule: Schedule) -> None:
        heapq.heappush(self._heap, (tick, next(self._order), prefix, schedule))
