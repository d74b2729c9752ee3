"""Group commit: calls that wait at the same moment go out together, in one round trip.

A :class:`Coalescer` lets a caller who finds no call under way go straight out, alone, at once:
no timer, no yield. Callers who arrive while a call is under way queue; when it returns, the
oldest queued caller sends the next batch, with the callers queued behind it, and so on. The
batch size follows the load by itself: it is the number of callers who arrived during one round
trip. With many callers it takes about half of those about (queued, or settled and coming
back): two halves then take turns, one getting its next items ready while the other's round
trip is under way, instead of all waiting on one round trip and then all being busy at once.

There is no background thread or greenlet: callers send for each other, and the last one out
leaves nothing running and hands back what it held (``idle``). Only ``threading`` primitives are
used (a lock, one event per waiting caller), so the same code serves plain threads and, under
gevent's monkey-patching, greenlets. Each caller learns its own outcome: ``send`` says which
items it refused, and an error of the whole call fails exactly the callers of that call, each
with its own copy of the error.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import deque
from typing import Callable, Deque, Generic, List, Optional, Sequence, TypeVar, cast

from redis.exceptions import ConnectionError

T = TypeVar("T")

#: What ``send`` returns: one entry per item, None when it was stored, else the error its caller
#: raises (an item the other side refused; the others stay stored).
Outcomes = Sequence[Optional[BaseException]]

#: Forks of this process so far, counted in the child: a coalescer made before the last one
#: starts afresh (cheaper to compare on every call than ``os.getpid()``, a system call).
_generation = 0


def _forked() -> None:
    global _generation
    _generation += 1


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere no process forks
    os.register_at_fork(after_in_child=_forked)

#: Where a waiting call is: queued, chosen to send the next batch, carried by another's batch,
#: or settled (``error`` says how).
_QUEUED, _LEADS, _CARRIED, _SETTLED = range(4)


class Interrupted(ConnectionError):
    """The caller that was sending this item's batch was interrupted (a timeout, a kill) before
    the reply came: like a lost reply, the item may or may not have been stored."""


class _Call(Generic[T]):
    __slots__ = ("item", "size", "state", "error", "wake")

    def __init__(self, item: T, size: int) -> None:
        self.item = item
        self.size = size
        self.state = _LEADS
        self.error: Optional[BaseException] = None
        self.wake: Optional[threading.Event] = None

    def queue(self) -> threading.Event:
        """Make this call wait: an event set once it is settled or chosen to lead (only a call
        that waits pays for one)."""
        self.state = _QUEUED
        self.wake = threading.Event()
        return self.wake


class Coalescer(Generic[T]):
    """Sends items through ``send(items) -> Outcomes``, many callers' items per call.

    One call is under way at a time: a caller finding none goes straight out with its item
    alone; otherwise it queues. A batch holds at most ``limit`` items and, past
    its first item, at most ``budget`` in total of the sizes given to :meth:`submit`, so one
    call's work on the other side stays bounded. Items go out in the order callers queued.
    ``idle`` is called when the last call under way ends and none follows (the owner gives back
    what it holds for sending: a connection), with no sender running.
    """

    def __init__(
        self, send: Callable[[List[T]], Outcomes], limit: int, budget: int,
        idle: Optional[Callable[[], None]] = None,
    ) -> None:
        self._send = send
        self._limit = limit
        self._budget = budget
        self._idle = idle
        self._reset()

    def _reset(self) -> None:
        self._mutex = threading.Lock()  # guards the counts and the queue; never held across I/O
        self._queued: Deque[_Call[T]] = deque()
        self._sending = False  # a call is under way
        self._waking = 0  # callers settled who have not resumed yet: they are about to come back
        self._generation = _generation

    @property
    def waiting(self) -> int:
        """Callers queued behind the call under way (for a probe: it changes as you read it)."""
        return len(self._queued)

    def submit(self, item: T, size: int = 0) -> None:
        """Send ``item``; return once the other side took it, or raise its own error.

        The error is the one ``send`` gave this item, or the error of the whole call that carried
        it (a copy of it, for every caller but the one that sent). When this caller is
        interrupted while it waits (a ``gevent.Timeout``, a kill), the interruption propagates:
        an item still queued is withdrawn and never sent; one already carried may be stored, as
        with a reply lost on the way back.
        """
        if self._generation != _generation:
            # A fork copied the state of calls under way in the parent; none of them is ours.
            self._reset()
        call = _Call(item, size)
        with self._mutex:
            alone = not self._sending
            if alone:
                self._sending = True
                crowded = self._waking > 0
            else:
                wake = call.queue()
                self._queued.append(call)
        if alone:
            if crowded:
                # Callers just settled are about to come back: one yield lets them queue behind
                # this call, else it would go out alone and, as long as its replies come before
                # they get to run, again and again, while they wait. Nobody else about: no yield.
                try:
                    time.sleep(0)
                except BaseException:
                    self._hand_on(1)
                    raise
            return self._lead(call)
        try:
            wake.wait()
        except BaseException:
            self._withdraw(call)
            raise
        if call.state == _LEADS:
            return self._lead(call)
        with self._mutex:
            self._waking -= 1
        if call.error is not None:
            raise call.error

    def _withdraw(self, call: _Call[T]) -> None:
        """A waiting caller gave up: take its item back if it is still queued; hand its turn to
        send on if it was chosen to lead (nothing of its own was sent)."""
        with self._mutex:
            state = call.state
            if state == _QUEUED:
                self._queued.remove(call)
            elif state != _LEADS:
                # Carried or settled: counted among those coming back (now or when its batch
                # returns), which this caller no longer does.
                self._waking -= 1
        if state == _LEADS:
            self._hand_on(1)

    def _lead(self, call: _Call[T]) -> None:
        """Send ``call`` and calls queued behind it, then hand on the turn and settle them."""
        batch = [call]
        with self._mutex:
            # Half of the callers about: those queued, and those settled who will be back in a
            # moment. Taking them all would leave no one queued behind this batch, and no round
            # trip under way while they get ready again; two halves take turns instead, one
            # getting ready while the other's round trip is under way.
            count = min(self._limit, (len(self._queued) + self._waking + 2) // 2)
            size = 0
            while self._queued and len(batch) < count and size + self._queued[0].size <= self._budget:
                carried = self._queued.popleft()
                carried.state = _CARRIED
                size += carried.size
                batch.append(carried)
        errors: Outcomes = ()
        try:
            outcomes = self._send([each.item for each in batch])
            if len(outcomes) != len(batch):
                raise RuntimeError(f"send gave {len(outcomes)} outcomes for {len(batch)} items")
            errors = outcomes[1:]
        except BaseException as error:
            errors = [_shared(error) for _ in batch[1:]]
            raise
        finally:
            try:
                self._hand_on(len(batch))
            finally:  # whatever happens, no carried caller is left waiting
                self._settle(batch[1:], errors)
        if outcomes[0] is not None:
            raise outcomes[0]

    def _hand_on(self, sent: int) -> None:
        """The turn to send passes to the oldest queued caller, or sending stops; the ``sent - 1``
        callers carried by the sender are about to be settled."""
        with self._mutex:
            self._waking += sent - 1
            following = self._queued.popleft() if self._queued else None
            if following is None:
                self._sending = False
                if self._idle is not None:
                    self._idle()  # under the mutex: no sender can start meanwhile
            else:
                following.state = _LEADS
        if following is not None:
            # Woken before the callers just carried: the next round trip starts while they run.
            cast(threading.Event, following.wake).set()

    @staticmethod
    def _settle(calls: Sequence[_Call[T]], errors: Outcomes) -> None:
        for call, error in zip(calls, errors):
            call.error = error
            call.state = _SETTLED
            cast(threading.Event, call.wake).set()


def _shared(error: BaseException) -> BaseException:
    """The error a carried caller raises when the whole call failed with ``error``: its own copy
    (one exception object raised in many threads would share one traceback), chained to it.

    An interruption of the sender (``gevent.Timeout``, a kill, ``KeyboardInterrupt``) was meant
    for the sender alone: the others get :class:`Interrupted` instead.
    """
    if not isinstance(error, Exception):
        own: BaseException = Interrupted(f"the call carrying this item was cut short ({error!r}): it may be stored")
    else:
        try:
            own = copy.copy(error)
        except Exception:
            return error
    own.__cause__ = error
    return own
