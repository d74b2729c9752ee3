"""How the worker talks to one kind of Redis: a server over the network, or one in this process.

fakeredis runs its server inside this process, behind locks that gevent has patched: its
blocking commands return at once under gevent, and its locks cannot be shared with a native
thread. So with it the worker polls instead of blocking, calls through the pool instead of a
connection of its own, and beats from a greenlet. This module is the one place that knows;
the worker asks :func:`adapter_for` once and uses what it gets.
"""

from __future__ import annotations

import time
from typing import Any, Optional

import gevent

from .connection import clone, in_process
from .lane import Lane

#: Seconds between two polls of an in-process server standing in for a blocking call.
POLL_INTERVAL = 0.005


class Network:
    """A Redis server over a socket: the real thing."""

    #: The heartbeat runs in a native thread, so a job that holds the CPU cannot starve it.
    threaded = True

    def lane(self, client: Any) -> Lane:
        """A connection of its own for one busy loop (see :mod:`gjobs.lane`)."""
        return Lane(client)

    def move(self, lane: Lane, source: str, destination: str, timeout: float) -> Optional[Any]:
        """Block up to ``timeout`` seconds for an id at the right of ``source`` and move it to the
        left of ``destination``; None when none came."""
        return lane.execute("BLMOVE", source, destination, "RIGHT", "LEFT", timeout)

    def heartbeat_client(self, client: Any) -> Any:
        """The client the heartbeat thread uses: a clone, with connections of its own."""
        return clone(client)

    def listen(self, pubsub: Any, timeout: float) -> Any:
        """The next message of ``pubsub``, waiting up to ``timeout`` seconds; None when none came."""
        return pubsub.get_message(timeout=timeout)


class InProcess(Network):
    """An in-process server (fakeredis), for tests and the demo."""

    threaded = False

    def lane(self, client: Any) -> Lane:
        return Lane(client, direct=False)

    def move(self, lane: Lane, source: str, destination: str, timeout: float) -> Optional[Any]:
        deadline = time.monotonic() + timeout
        while True:
            moved = lane.execute("LMOVE", source, destination, "RIGHT", "LEFT")
            if moved is not None or time.monotonic() >= deadline:
                return moved
            gevent.sleep(POLL_INTERVAL)

    def heartbeat_client(self, client: Any) -> Any:
        return client

    def listen(self, pubsub: Any, timeout: float) -> Any:
        # fakeredis waits on a threading.Event, which blocks every greenlet when gevent has not
        # patched threading (an application's own test suite): look, then sleep the gevent way.
        deadline = time.monotonic() + timeout
        while True:
            message = pubsub.get_message(timeout=0)
            if message is not None or time.monotonic() >= deadline:
                return message
            gevent.sleep(POLL_INTERVAL)


def adapter_for(client: Any) -> Network:
    """The adapter for ``client``'s kind of server."""
    return InProcess() if in_process(client) else Network()
