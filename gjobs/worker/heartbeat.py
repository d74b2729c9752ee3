"""The heartbeat thread: keeps a worker registered while its jobs run, from a native OS thread.

A job that holds the CPU without yielding starves the gevent hub, and a heartbeat greenlet with
it: other workers would presume this one dead and run its jobs a second time while they are
still running. A native thread is scheduled by the interpreter every few milliseconds whatever
the hub does, so it keeps beating. It uses its own Redis client (see ``connection.clone``),
closed by the thread when it ends.

An in-process server (fakeredis) is guarded by locks that, once gevent has patched them, cannot
be shared with another thread; for it the heartbeat runs as a greenlet instead.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional

import gevent
import gevent.event
from gevent import monkey

logger = logging.getLogger("gjobs")

# The unpatched primitives: under monkey-patching, ``threading`` would give us a greenlet.
_start_new_thread = monkey.get_original("_thread", "start_new_thread")
_allocate_lock = monkey.get_original("_thread", "allocate_lock")


class Heartbeat:
    """Calls ``tick()`` every ``interval`` seconds until :meth:`stop`, in a native thread when
    ``native`` is true, else in a greenlet; then ``on_exit()``, in the same thread (to close the
    connections the ticks opened there).

    ``tick`` must handle its own errors; anything it lets escape is logged and the beat goes on.
    A tick that returns False (it could not reach Redis) is tried again after a quarter of the
    interval rather than a whole one, so that a worker beats again soon after an outage ends.
    """

    def __init__(
        self, tick: Callable[[], Any], interval: float, native: bool = True,
        on_exit: Optional[Callable[[], None]] = None,
    ) -> None:
        self.tick = tick
        self.interval = interval
        self.native = native
        self.on_exit = on_exit
        self._running = False
        self._greenlet: "gevent.Greenlet | None" = None
        self._stop = _allocate_lock()
        self._done = _allocate_lock()

    def start(self) -> None:
        if self._running:
            return
        self._running = True
        if not self.native:
            self._greenlet = gevent.spawn(self._beat_in_greenlet)
            return
        self._stop.acquire()  # held until stop(): the thread waits on it between ticks
        self._done.acquire()  # released by the thread when it exits
        _start_new_thread(self._beat_in_thread, ())

    def _safe(self, call: Optional[Callable[[], Any]]) -> bool:
        try:
            return call is None or call() is not False
        except Exception:
            logger.exception("heartbeat %s failed", getattr(call, "__name__", "call"))
            return False

    def _wait(self, ok: bool) -> float:
        return self.interval if ok else self.interval / 4

    def _beat_in_thread(self) -> None:
        try:
            while True:
                if self._stop.acquire(True, self._wait(self._safe(self.tick))):
                    return
        finally:
            self._safe(self.on_exit)
            # Patched sockets gave this thread a gevent hub of its own, with a thread pool that
            # resolved the host's name: end both, or each start and stop would leave a thread.
            self._safe(lambda: gevent.get_hub().destroy(destroy_loop=True))
            self._done.release()

    def _beat_in_greenlet(self) -> None:
        try:
            while True:
                gevent.sleep(self._wait(self._safe(self.tick)))
        finally:
            self._safe(self.on_exit)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop beating and wait (up to ``timeout``) for the current tick to end."""
        if not self._running:
            return True
        self._running = False
        if self._greenlet is not None:
            self._greenlet.kill(block=True, timeout=timeout)
            self._greenlet = None
            return True
        self._stop.release()
        finished: bool = self._done.acquire(True, timeout)
        if finished:
            self._done.release()
        return finished
