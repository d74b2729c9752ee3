"""A concurrency limit shared by the fetch loops of one or more queues.

A fetch loop acquires slots before it takes jobs and a job gives its slot back when it ends, so
a worker never holds more jobs than it can run. When several queues share one limit, freed
slots go by priority: strictly by rank (rank 0 first), or, with weights, at random in proportion
to each rank's weight, so that a low queue still moves while a high one is busy.

Both have to survive a race: while a queue's loop is busy fetching (its Redis call under way)
it is not waiting for slots, yet it will want them. So a loop is in one of three states:
``fetching``, ``waiting`` (for slots) or ``idle`` (it found its queue empty and waits for a
job). With strict priority, slots freed while a better-ranked loop is fetching wait for it. With
weights, each freed slot is drawn among the loops that are fetching or waiting, and one drawn
for a loop that is fetching is kept for it until it asks again; otherwise the loop that happens
to be waiting would win every slot, and two busy queues would share them about evenly whatever
their weights. An idle loop draws nothing: lower ranks, or the others, go on.
"""

from __future__ import annotations

import math
import random
from typing import Any, Dict, Optional, Sequence, Tuple

import gevent.event

from .validate import positive

FETCHING, WAITING, IDLE = "fetching", "waiting", "idle"


class Slots:
    """``total`` slots; ``weights[rank]`` switches from strict priority to weighted choice.

    ``rng`` makes the weighted draws (anything with ``random.Random.choices``; the ``random``
    module by default): a seeded ``random.Random`` makes them repeatable.
    """

    def __init__(self, total: int, weights: Optional[Sequence[float]] = None, rng: Any = None) -> None:
        positive("total", total, integer=True)
        if weights is not None and (not weights or any(not 0 < w < math.inf for w in weights)):
            raise ValueError(f"weights must be positive numbers, not {weights!r}")
        self.total = total
        #: Slots not held by any loop or job (with weights, some of them kept for a rank).
        self.free = total
        self.weights = list(weights) if weights is not None else None
        self._rng = rng if rng is not None else random
        self._state: Dict[int, str] = {}
        # rank -> (most wanted, event set once granted); at most one waiting loop per rank
        self._waiting: Dict[int, Tuple[int, Any]] = {}
        self._granted: Dict[int, int] = {}
        # With weights: rank -> free slots drawn for it and not yet taken (part of ``free``).
        self._kept: Dict[int, int] = {}

    @property
    def used(self) -> int:
        return self.total - self.free

    def acquire(self, most: int, rank: int = 0) -> int:
        """Wait until at least one slot is granted to ``rank``; returns how many (1 to ``most``)."""
        if self.weights is not None:
            self._state[rank] = FETCHING  # it wants slots: it takes part in the draws
            self._draw()
            if self._kept.get(rank):
                return self._take_kept(rank, most)
        elif self.free > 0 and not self._waiting and self._may_take(rank):
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
        granted = self._granted.pop(rank)
        if self.weights is not None:
            return granted + self._take_kept(rank, most - granted)  # drawn while it woke up
        # Slots freed while this loop was waking up (after the one that woke it) are free for
        # the taking if no loop waits for them: take them too, rather than fetch one job per
        # wake-up while the rest stay idle until the next round trip.
        if granted < most and self.free > 0 and not self._waiting and self._may_take(rank):
            extra = min(self.free, most - granted)
            self.free -= extra
            granted += extra
        return granted

    def try_acquire(self, most: int, rank: int = 0) -> int:
        """Take up to ``most`` free slots without waiting (possibly 0), and mark ``rank`` as
        fetching."""
        self._state[rank] = FETCHING
        if self.weights is not None:
            self._draw()
            return self._take_kept(rank, most)
        if most <= 0 or self.free <= 0 or not self._may_take(rank, also_waiting=True):
            return 0
        granted = min(self.free, most)
        self.free -= granted
        return granted

    def enter(self, rank: int = 0) -> None:
        """``rank`` is about to fetch for the first time (its server starts): until it finds its
        queue empty or leaves, lower ranks defer to it (or, with weights, it takes part in the
        draws), as any loop that is fetching."""
        self._state[rank] = FETCHING

    def idle(self, rank: int = 0) -> None:
        """``rank`` found its queue empty and waits for a job: lower ranks need not defer to it."""
        self._state[rank] = IDLE
        self._kept.pop(rank, None)
        self._dispatch()

    def leave(self, rank: int = 0) -> None:
        """``rank`` stopped fetching for good (its server stops)."""
        self._state.pop(rank, None)
        self._kept.pop(rank, None)
        self._dispatch()

    def release(self, count: int = 1) -> None:
        """Give ``count`` slots back, waking the next waiting loop if any."""
        self.free += count
        if self._waiting or self.weights is not None:
            self._dispatch()

    def _may_take(self, rank: int, also_waiting: bool = False) -> bool:
        """Strict priority: no better-ranked loop is fetching (or, for a non-waiting taker,
        waiting)."""
        if self.weights is not None:
            return True
        blocking = (FETCHING, WAITING) if also_waiting else (FETCHING,)
        return not any(r < rank and state in blocking for r, state in self._state.items())

    def _dispatch(self) -> None:
        if self.weights is not None:
            self._draw()
            for rank in [r for r in self._waiting if self._kept.get(r)]:
                most, event = self._waiting.pop(rank)
                self._granted[rank] = self._take_kept(rank, most)
                self._state[rank] = FETCHING
                event.set()
            return
        while self.free > 0 and self._waiting:
            ready = [r for r in self._waiting if self._may_take(r)]
            if not ready:
                return
            rank = min(ready)
            most, event = self._waiting.pop(rank)
            granted = min(self.free, most)
            self.free -= granted
            self._granted[rank] = granted
            self._state[rank] = FETCHING
            event.set()

    def _draw(self) -> None:
        """With weights: draw each free slot not yet kept for a rank among the ranks that want
        slots (fetching or waiting), in proportion to their weights."""
        spare = self.free - sum(self._kept.values())
        if spare <= 0:
            return
        ranks = [r for r, state in self._state.items() if state != IDLE]
        if not ranks:
            return  # nobody wants them now: the first loop to ask takes them
        weights = self.weights or [1.0]
        chances = [weights[r] if r < len(weights) else weights[-1] for r in ranks]
        for rank in self._rng.choices(ranks, chances, k=spare):
            self._kept[rank] = self._kept.get(rank, 0) + 1

    def _take_kept(self, rank: int, most: int) -> int:
        kept = self._kept.get(rank, 0)
        taken = min(kept, max(most, 0))
        if taken:
            self.free -= taken
            if taken == kept:
                del self._kept[rank]
            else:
                self._kept[rank] = kept - taken
        return taken
