"""A concurrency limit shared by the fetch loops of one or more queues.

A fetch loop acquires slots before it takes jobs and a job gives its slot back when it ends, so
a worker never holds more jobs than it can run. When several queues share one limit, freed
slots go by priority: strictly by rank (rank 0 first), or, with weights, at random in proportion
to each rank's weight, so that a low queue still moves while a high one is busy.

Strict priority has to survive a race: while the high queue's loop is busy fetching (its
Redis call under way) it is not waiting for slots, yet it will want them. So a loop is in one
of three states, and slots freed while a better-ranked loop is ``fetching`` wait for it; a loop
that found its queue empty says so (:meth:`Slots.idle`) and lower ranks may go on.
"""

from __future__ import annotations

import random
from typing import Dict, Optional, Sequence

import gevent.event

FETCHING, WAITING, IDLE = "fetching", "waiting", "idle"


class Slots:
    """``total`` slots; ``weights[rank]`` switches from strict priority to weighted choice."""

    def __init__(self, total: int, weights: Optional[Sequence[float]] = None) -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 1:
            raise ValueError(f"total must be a positive integer, not {total!r}")
        if weights is not None and (not weights or any(not w > 0 for w in weights)):
            raise ValueError(f"weights must be positive numbers, not {weights!r}")
        self.total = total
        self.free = total
        self.weights = list(weights) if weights is not None else None
        self._state: Dict[int, str] = {}
        # rank -> (most wanted, event set once granted); at most one waiting loop per rank
        self._waiting: Dict[int, tuple] = {}
        self._granted: Dict[int, int] = {}

    @property
    def used(self) -> int:
        return self.total - self.free

    def acquire(self, most: int, rank: int = 0) -> int:
        """Wait until at least one slot is granted to ``rank``; returns how many (1 to ``most``)."""
        if self.free > 0 and not self._waiting and self._may_take(rank):
            self._state[rank] = FETCHING
            granted = min(self.free, most)
            self.free -= granted
            return granted
        event = gevent.event.Event()
        self._waiting[rank] = (most, event)
        self._state[rank] = WAITING
        try:
            self._dispatch()
            event.wait()
        except BaseException:
            self._waiting.pop(rank, None)
            self.free += self._granted.pop(rank, 0)  # killed after a grant: give it back
            self.leave(rank)
            raise
        return self._granted.pop(rank)

    def try_acquire(self, most: int, rank: int = 0) -> int:
        """Take up to ``most`` free slots without waiting (possibly 0), and mark ``rank`` as
        fetching."""
        self._state[rank] = FETCHING
        if most <= 0 or self.free <= 0 or not self._may_take(rank, also_waiting=True):
            return 0
        granted = min(self.free, most)
        self.free -= granted
        return granted

    def idle(self, rank: int = 0) -> None:
        """``rank`` found its queue empty and waits for a job: lower ranks need not defer to it."""
        self._state[rank] = IDLE
        self._dispatch()

    def leave(self, rank: int = 0) -> None:
        """``rank`` stopped fetching for good (its server stops)."""
        self._state.pop(rank, None)
        self._dispatch()

    def release(self, count: int = 1) -> None:
        """Give ``count`` slots back, waking the next waiting loop if any."""
        self.free += count
        if self._waiting:
            self._dispatch()

    def _may_take(self, rank: int, also_waiting: bool = False) -> bool:
        """Strict priority: no better-ranked loop is fetching (or, for a non-waiting taker,
        waiting)."""
        if self.weights is not None:
            return True
        blocking = (FETCHING, WAITING) if also_waiting else (FETCHING,)
        return not any(r < rank and state in blocking for r, state in self._state.items())

    def _dispatch(self) -> None:
        while self.free > 0 and self._waiting:
            ready = [r for r in self._waiting if self._may_take(r)]
            if not ready:
                return
            rank = self._choose(ready)
            most, event = self._waiting.pop(rank)
            granted = min(self.free, most)
            self.free -= granted
            self._granted[rank] = granted
            self._state[rank] = FETCHING
            event.set()

    def _choose(self, ranks: list) -> int:
        if self.weights is None or len(ranks) == 1:
            return min(ranks)
        weights = [self.weights[r] if r < len(self.weights) else self.weights[-1] for r in ranks]
        return random.choices(ranks, weights)[0]
