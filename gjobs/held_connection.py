"""One connection of a client's pool, held while a run of script calls goes out back to back.

redis-py checks a connection out of its pool for every command and makes sure it is fit to use:
it polls the socket for stale data, which under gevent is a trip through the hub. There every
other runnable greenlet runs first, so the command leaves only after all of them: a sender of
batches that goes through the pool lets the next batch form before the current one is even
written, and the round trips stop overlapping with the callers' own work. A
:class:`HeldConnection` takes one connection from the pool when a run of calls starts, sends
each call on it at once, and gives it back when the run ends (:meth:`release`), so a queue
holds no connection between runs and one built per request leaks none. (A worker's
:class:`~gjobs.lane.Lane` keeps its connection until the worker closes it, and never retries:
its loops retry themselves. A producer's queue has neither a close it must call nor a loop.)
Each run starts with a checkout through the pool, so the pool's checks of an idle connection
still apply once per run.

Failures are handled as redis-py handles them for a command sent through the client: the
errors its ``retry`` policy covers (connection errors and timeouts) are retried on the same
connection, reconnected (behind Sentinel, to the current master), as many times as that policy
says, and the last error is raised. ``NOSCRIPT`` (Redis restarted, failed over or flushed its
scripts) loads the script on this connection and sends the call again: it had not run. Any
other interruption (a ``gevent.Timeout``, a kill) leaves a reply half read, so the connection is
closed and given back, never reused as is. Clients without one connection pool (Redis Cluster)
send every call through the client, which routes it.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence

from redis.exceptions import NoScriptError, ResponseError


class HeldConnection:
    """Script calls of ``client`` on one connection held between :meth:`run` and :meth:`release`.

    One caller at a time: the owner (a :class:`~gjobs.coalesce.Coalescer`'s sender) makes sure
    of it.
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self._pool: Any = getattr(client, "connection_pool", None)
        self._connection: Optional[Any] = None
        self._pid = 0

    def run(self, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """``script(keys=keys, args=args)`` on the held connection (taking one if none is held)."""
        if self._pool is None:
            return script(keys=keys, args=args)
        connection = self._connection if self._pid == os.getpid() else None
        if connection is None:
            connection = self._connection = self._pool.get_connection()
            self._pid = os.getpid()
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return connection.retry.call_with_retry(
                lambda: _evalsha(connection, script, command), lambda error: connection.disconnect()
            )
        except ResponseError:
            raise  # the whole reply was read: the connection is fine
        except BaseException:
            connection.disconnect()
            self.release()
            raise

    def release(self) -> None:
        """Give the held connection back to the pool; the next :meth:`run` takes one again.
        Never raises: a connection the pool does not take back is closed instead."""
        connection, self._connection = self._connection, None
        if connection is None or self._pid != os.getpid():
            return  # none held, or the parent's before a fork: the child never used it
        try:
            self._pool.release(connection)
        except Exception:
            connection.disconnect()


def _evalsha(connection: Any, script: Any, command: Sequence[Any]) -> Any:
    try:
        connection.send_command(*command)
        return connection.read_response()
    except NoScriptError:
        # Loaded on this very connection: behind Sentinel the pool may reach another server.
        connection.send_command("SCRIPT", "LOAD", script.script)
        connection.read_response()
        connection.send_command(*command)
        return connection.read_response()
