"""A connection of its own for the script calls of one busy loop.

redis-py runs every command through its pool: it checks a connection out, polls it to be sure no
stale reply waits on it (under gevent a poll is a trip through the hub), wraps the call in its
retry and metrics machinery, and checks the connection back in. Under gevent that costs about
250 us of CPU per call, more than the script itself. The fetch and settle loops make one call per
batch all day long: a :class:`Lane` gives such a loop a connection of its own and sends
``EVALSHA`` on it directly, for about a third of that. :meth:`Lane.pipeline` sends several
commands in one write the same way: the settle loop stores the results jobs keep with it.

Errors behave as in redis-py without its client-side retries: the call raises, the connection is
dropped and the next call connects again (the loops back off and retry; a lost fetch reply is
reconciled). A ``NOSCRIPT`` reply (Redis restarted, failed over or flushed its scripts) loads the
script and sends the call again. A lane serves one caller at a time (greenlet or thread): a call
made while another is under way goes through the client's pool, as do all calls on clients
without a single connection pool (Redis Cluster) and on a lane made with ``direct=False``. The
connection stays out of the pool until :meth:`Lane.close`.

With hiredis, a lane also packs its commands in one hiredis call. redis-py runs each argument
through its encoder in Python first, and a settle call carries one argument per job: packing a
call of 500 ids cost 8,816 instructions an id, 1,477 in one hiredis call (callgrind). The bytes
are the same: hiredis encodes str as UTF-8 and numbers as ``repr`` does, as redis-py's default
encoder; a connection that encodes otherwise, and an argument hiredis does not take, go through
redis-py.
"""

from __future__ import annotations

import codecs
import os
import threading
from typing import Any, Callable, List, Optional, Sequence

from redis.exceptions import NoScriptError, ResponseError

try:
    from hiredis import pack_command as _hiredis_pack

    _PACK: Optional[Callable[[Any], bytes]] = _hiredis_pack
except ImportError:  # no hiredis, or one too old to pack: redis-py packs every command
    _PACK = None


class Lane:
    """Runs scripts of ``client`` on one connection taken from its pool at the first call (or,
    with ``direct=False``, on the pool like any other call)."""

    def __init__(self, client: Any, direct: bool = True) -> None:
        self.client = client
        self._pool: Any = getattr(client, "connection_pool", None)
        self._direct = direct and self._pool is not None
        self._connection: Any = None
        self._pid = 0
        self._packs = False  # whether hiredis packs for this lane's connection (see _take)
        self._free = threading.Lock()  # held while a call is under way; never waited for

    def run(self, script: Any, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """``script(keys=keys, args=args)``, on this lane's connection when it is free."""
        if not self._direct or self._free.locked():
            return script(keys=keys, args=args)
        try:
            return self._send("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            # Loaded on this lane's own connection: behind Sentinel the pool may reach another
            # server (a replica that was the master), and the call would never find its script.
            self._send("SCRIPT", "LOAD", script.script)
            return self._send("EVALSHA", script.sha, len(keys), *keys, *args)

    def execute(self, *command: Any) -> Any:
        """``client.execute_command(*command)``, on this lane's connection when it is free."""
        if not self._direct or self._free.locked():
            return self.client.execute_command(*command)
        return self._send(*command)

    def pipeline(self, commands: Sequence[Sequence[Any]]) -> List[Any]:
        """Send ``commands`` in one write and return their replies, on this lane's connection when
        it is free (through a redis-py pipeline otherwise). A command Redis refuses raises its
        error once every reply is read, so the connection stays in step. As with :meth:`execute`,
        replies are as Redis sends them on the lane's connection and as redis-py parses them
        through its pipeline: callers use replies that read the same both ways, or none."""
        if not commands:
            return []
        replies = self._on_lane(commands) if self._direct else None
        if replies is not None:
            return replies
        pipe = self.client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        return list(pipe.execute())

    def _send(self, *command: Any) -> Any:
        replies = self._on_lane([command])
        if replies is None:  # taken since the caller looked: use the pool
            return self.client.execute_command(*command)
        return replies[0]

    def _on_lane(self, commands: Sequence[Sequence[Any]]) -> Optional[List[Any]]:
        """The replies to ``commands`` sent on this lane's connection, or None when another call
        holds it. An error reply is raised once every reply is read: the connection is fine."""
        if not self._free.acquire(False):
            return None
        try:
            replies = self._exchange(commands)
        finally:
            self._free.release()
        error = next((reply for reply in replies if isinstance(reply, ResponseError)), None)
        if error is not None:
            raise error
        return replies

    def _exchange(self, commands: Sequence[Sequence[Any]]) -> List[Any]:
        """Send ``commands`` at once and read every reply (an error reply is returned, not
        raised); the caller holds ``_free``."""
        connection = self._connection
        if connection is None or self._pid != os.getpid():
            connection = self._take()
        try:
            packed = _packed_all(commands) if self._packs else None
            connection.send_packed_command(packed if packed is not None else connection.pack_commands(commands))
            replies: List[Any] = []
            for _ in commands:
                try:
                    replies.append(connection.read_response())
                except ResponseError as error:
                    replies.append(error)  # the whole reply was read: go on with the next
            return replies
        except BaseException:
            self._drop(connection)
            raise

    def _drop(self, connection: Any) -> None:
        """After an error or a kill mid-call: a reply may be left half read, so this socket is
        never reused as is. The next call takes a connection from the pool, which connects it
        its own way: behind Sentinel that asks for the current master (a bare reconnect would go
        back to the old address, which may be a replica now)."""
        connection.disconnect()
        self.close()

    def _take(self) -> Any:
        self._connection = self._pool.get_connection()
        self._pid = os.getpid()
        encoder = getattr(self._connection, "encoder", None)
        self._packs = _PACK is not None and encoder is not None and encoder.encoding_errors == "strict" \
            and codecs.lookup(encoder.encoding).name == "utf-8"
        return self._connection

    def close(self) -> None:
        """Give the connection back to the client's pool (the next call takes one again)."""
        connection: Optional[Any] = self._connection
        self._connection = None
        if connection is not None and self._pid == os.getpid():
            self._pool.release(connection)


def _packed(command: Sequence[Any]) -> Optional[List[bytes]]:
    """``command`` packed by hiredis, or None for arguments it does not take (redis-py then packs
    them, or refuses them with its own error, as without hiredis)."""
    pack, first = _PACK, command[0]
    if pack is None or isinstance(first, str) and " " in first or isinstance(first, bytes) and b" " in first:
        return None  # redis-py splits a command name holding spaces ("CLIENT ID") into words
    try:
        return [pack(tuple(command))]
    except TypeError:
        return None


def _packed_all(commands: Sequence[Sequence[Any]]) -> Optional[List[bytes]]:
    """``commands`` packed by hiredis, in one buffer; None if one of them is not (see
    :func:`_packed`)."""
    parts: List[bytes] = []
    for command in commands:
        part = _packed(command)
        if part is None:
            return None
        parts += part
    return parts if len(parts) == 1 else [b"".join(parts)]
