"""Reusable job greenlets: the default ``parent`` of a :class:`~gjobs.server.Server`.

Starting a greenlet costs more than a no-op job: CPython gives every new greenlet a fresh frame
stack and gevent's ``Pool`` adds its bookkeeping, 25-35 us per job on a small VM. A
:class:`Runners` pool keeps up to ``size`` greenlets alive and hands each call to an idle one,
so a job costs two greenlet switches instead (about 1 us).

It has the face of a ``gevent.pool.Pool`` that the server uses: ``spawn(function, *args)``
returns the greenlet that runs the call (kill it to interrupt the call), ``size``, ``len()``
(calls running) and ``kill()``. A call that raises an exception is reported to the hub, as an
exception in a spawned greenlet is, and its runner goes on with the next call.
``GreenletExit``, ``KeyboardInterrupt`` and ``SystemExit`` end the runner (so a killed runner
never runs another call); the pool starts a new one when it needs it.

Greenlet-local state (``gevent.local``) lives as long as a runner, across the calls it runs, as
thread-local state does in a thread pool. Pass a ``gevent.pool.Pool`` as the server's
``parent`` to run every job in a greenlet of its own.
"""

from __future__ import annotations

import sys
from typing import Any, Callable, List, Optional, Set, Tuple

import gevent
import gevent.event
from gevent.hub import get_hub

from .validate import positive

_ENDS_A_RUNNER = (gevent.GreenletExit, KeyboardInterrupt, SystemExit)


class _Runner(gevent.Greenlet):  # type: ignore[misc]
    """Runs the calls the pool hands it, one after another, until killed."""

    def __init__(self, pool: "Runners", call: Tuple[Callable[..., Any], Tuple[Any, ...]]) -> None:
        gevent.Greenlet.__init__(self)
        self._pool = pool
        self._call: Optional[Tuple[Callable[..., Any], Tuple[Any, ...]]] = call

    def _run(self) -> None:
        pool = self._pool
        park = get_hub().switch
        try:
            while True:
                # Set by Runners before each switch here. No typing.cast: its Tuple[...] is built
                # (a cached lookup) on every call, a cost per job for nothing at run time.
                function, args = self._call  # type: ignore[misc]
                self._call = None
                try:
                    function(*args)
                except _ENDS_A_RUNNER:
                    raise
                except Exception:
                    get_hub().handle_error(self, *sys.exc_info())
                function = args = None  # hold nothing of a finished call while idle
                pool._idle.append(self)
                if pool._waiting:
                    pool._freed.set()
                park()  # until Runners._wake switches back here with the next call set
        finally:
            pool._discard(self)


class Runners:
    """Up to ``size`` reusable greenlets that run the calls given to :meth:`spawn`."""

    def __init__(self, size: int) -> None:
        self.size = positive("size", size, integer=True)
        self._runners: Set[_Runner] = set()
        self._idle: List[_Runner] = []
        # Runners handed a call, switched to by one hub callback (as gevent's queues do).
        self._handed: List[_Runner] = []
        self._waiting = 0
        self._freed = gevent.event.Event()

    def spawn(self, function: Callable[..., Any], *args: Any) -> gevent.Greenlet:
        """Run ``function(*args)`` in an idle runner (a new one while fewer than ``size`` exist);
        when all ``size`` are busy, wait for one to finish its call. Returns the runner."""
        while not self._idle and len(self._runners) >= self.size:
            self._waiting += 1
            try:
                self._freed.clear()
                self._freed.wait()
            finally:
                self._waiting -= 1
        if self._idle:
            runner = self._idle.pop()
            runner._call = (function, args)
            if not self._handed:
                get_hub().loop.run_callback(self._wake)
            self._handed.append(runner)
        else:
            runner = _Runner(self, (function, args))
            self._runners.add(runner)
            runner.start()
        return runner

    def _wake(self) -> None:
        """In the hub: switch to every runner handed a call; each comes back when idle again."""
        handed, self._handed = self._handed, []
        for runner in handed:
            if not runner.dead:  # killed before it could start the call: the call is dropped
                runner.switch()

    def __len__(self) -> int:
        """Calls running now (or handed over and about to run)."""
        return len(self._runners) - len(self._idle)

    def kill(self, block: bool = True, timeout: Optional[float] = None) -> None:
        """Kill every runner, busy or idle; the pool can be used again afterwards."""
        gevent.killall(list(self._runners), block=block, timeout=timeout)

    def _discard(self, runner: _Runner) -> None:
        self._runners.discard(runner)
        if runner in self._idle:
            self._idle.remove(runner)
        if self._waiting:
            self._freed.set()
