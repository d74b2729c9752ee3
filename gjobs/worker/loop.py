"""One loop of a worker as a greenlet: survives errors, and is stopped between Redis calls.

Every loop of the worker (fetching, settling, promoting) runs its ``step`` over and over
through a :class:`Loop`. A step that raises is logged (a Redis error in one line, anything else
with its traceback), and the loop waits before the next step, 0.1 s doubling up to 5 s, reset
by a step that succeeds. A step holds :attr:`Loop.in_call` around each Redis call that
:meth:`Loop.stop` must not cut in half.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

import gevent
import gevent.lock
import redis

logger = logging.getLogger("gjobs")

#: Seconds a failing loop waits before trying again: the first wait, and the cap.
RETRY_WAIT_FIRST = 0.1
RETRY_WAIT_CAP = 5.0
#: Seconds stop() waits for a loop to finish the Redis call it is making before killing it anyway.
CALL_GRACE = 5.0


def is_connection_trouble(error: BaseException) -> bool:
    """A Redis error, or the network's: worth one line in the log, not a traceback."""
    return isinstance(error, (redis.RedisError, OSError))


class Loop:
    """Runs ``step()`` in a greenlet from :meth:`start` until :meth:`stop`; ``name`` and ``owner``
    (the worker's id) appear in its log lines."""

    def __init__(self, name: str, owner: str, step: Callable[[], None]) -> None:
        self.name = name
        self.owner = owner
        self.step = step
        #: Held by the step while it makes a Redis call that :meth:`stop` must not cut in half.
        self.in_call = gevent.lock.Semaphore()
        self._greenlet: Optional[gevent.Greenlet] = None

    def start(self) -> None:
        self._greenlet = gevent.spawn(self.run)

    @property
    def running(self) -> bool:
        """Started, and not yet ended by :meth:`stop`."""
        return self._greenlet is not None and not self._greenlet.dead

    def run(self) -> None:
        """Step until killed; after an error, log it and wait (capped exponential backoff)."""
        wait = RETRY_WAIT_FIRST
        while True:
            try:
                self.step()
                wait = RETRY_WAIT_FIRST
            except Exception as error:
                if is_connection_trouble(error):
                    logger.warning("%s loop of worker %s: %s: %s; retrying in %.1f s",
                                   self.name, self.owner, type(error).__name__, error, wait)
                else:
                    logger.exception("%s loop of worker %s failed; retrying in %.1f s", self.name, self.owner, wait)
                gevent.sleep(wait)
                wait = min(RETRY_WAIT_CAP, wait * 2)

    def stop(self) -> None:
        """Kill the loop between two Redis calls, not inside one.

        With an in-process Redis (fakeredis) a greenlet killed inside a script call leaves the
        script half done (ids popped from one list and never pushed to the other); with a real
        one it only wastes the call. A call stuck longer than ``CALL_GRACE`` is killed anyway.
        """
        greenlet = self._greenlet
        if greenlet is None:
            return
        held = self.in_call.acquire(timeout=CALL_GRACE)
        try:
            greenlet.kill(block=True)
        finally:
            self._greenlet = None
            if held:
                self.in_call.release()
