"""Single enqueues of concurrent callers, written together: one script call per moment, not per job.

A web worker serving 100 requests at once makes 100 ``enqueue`` calls at once. Alone, each
costs a round trip on a pooled connection of its own, and redis-py's work around every command
outweighs the job's. A :class:`BatchEnqueue` sends a caller who finds nobody else enqueueing
straight out, alone, as before; callers who arrive while a call is under way are written by the
next one, together, by one ``enqueue_batch`` script (see :mod:`gjobs.coalesce` for who sends
when). 100 callers at once then share one connection and a round trip per few dozen jobs.

Every caller still gets its own answer, and returns only once Redis holds its job. Its job was
validated and encoded before it joined a batch, so a bad job raises in its own caller and never
reaches Redis. The script refuses a job alone when it cannot store it (:class:`Refused`). An
error of the whole call fails exactly the callers of that batch, and the script is one atomic
call that checks its keys before writing, so it stored all of their jobs or none; a reply lost
after Redis ran it raises as a lost reply always did (the jobs may be stored).

What shares calls: ``enqueue``, ``enqueue_at``, ``enqueue_in`` and ``Task.delay`` of jobs without
a caller's id or a unique key. What goes alone, as before: jobs with a caller's ``id`` or a
``unique_key`` (their scripts decide per job whether to store it), a queue's enqueues with
``wait_replicas`` (``WAIT`` counts the writes of one connection; see ``Queue._store``), and
payloads over :data:`ALONE_BYTES`. Callers share calls only through one :class:`~gjobs.queue.Queue`
object: queues built per request each send their own.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple, Union

from . import scripts
from .coalesce import Coalescer, Outcomes
from .held_connection import HeldConnection
from .keys import Keys

#: Jobs written per script call at most (as many as ``enqueue_many`` sends per chunk by default).
BATCH_JOBS = 500
#: Bytes of payloads per script call at most, past its first job: what one call copies into
#: Redis, and so how long it holds Redis, stays bounded, and a batch stays below the smallest
#: query buffer a Redis may be configured to accept from a client (1 MB).
BATCH_BYTES = 512 << 10
#: A payload larger than this many bytes is written by a call of its own, at once: its round
#: trip is spent on its own bytes, and it never makes a batch too large for Redis to take.
ALONE_BYTES = 64 << 10

#: ``(id, due, payload)`` as :meth:`gjobs.queue.Queue.prepare` makes it: due is None (now),
#: epoch seconds, or ``"+SECONDS"`` from Redis's now.
Prepared = Tuple[str, Optional[Union[float, str]], bytes]


class Refused(ValueError):
    """Redis refused this job (its due time is not a number); nothing of it was written."""


class BatchEnqueue:
    """Writes the jobs of concurrent callers of the queue ``keys`` in shared script calls, on a
    connection held while calls follow one another and given back when none follows."""

    def __init__(self, client: Any, keys: Keys) -> None:
        self._script = scripts.register(client, "enqueue_batch")
        self._keys = [keys.jobs, keys.ready, keys.delayed]
        self._wakeup = keys.wakeup
        self._held = HeldConnection(client)
        self._coalescer: Coalescer[Prepared] = Coalescer(self._write, BATCH_JOBS, BATCH_BYTES, self._held.release)

    def add(self, prepared: Prepared) -> str:
        """Store one prepared job; returns its id once Redis holds it, or raises its own error.
        Its id is one gjobs made (:func:`gjobs.ids.new_id`): the script takes ids apart at spaces."""
        if " " in prepared[0]:
            raise ValueError(f"a job id to share a call may hold no space, not {prepared[0]!r}")
        size = len(prepared[2])
        if size > ALONE_BYTES:
            error = self._outcomes([prepared], self._script(keys=self._keys, args=self._args([prepared])))[0]
            if error is not None:
                raise error
        else:
            self._coalescer.submit(prepared, size)
        return prepared[0]

    def _write(self, batch: List[Prepared]) -> Outcomes:
        """One script call for ``batch``, on the connection held while batches follow each other."""
        return self._outcomes(batch, self._held.run(self._script, self._keys, self._args(batch)))

    def _args(self, batch: List[Prepared]) -> List[Union[str, bytes]]:
        """The script's ARGV: ids and dues as one argument each (every argument costs redis-py
        more to encode and send than the bytes it holds), then the payloads."""
        ids = " ".join([job_id for job_id, _, _ in batch])
        if all(due is None for _, due, _ in batch):
            dues = ""
        else:
            dues = " ".join(["-" if due is None else due if isinstance(due, str) else repr(float(due))
                             for _, due, _ in batch])
        return [self._wakeup, ids, dues, *[payload for _, _, payload in batch]]

    @staticmethod
    def _outcomes(batch: List[Prepared], refused: List[Any]) -> Outcomes:
        outcomes: List[Optional[BaseException]] = [None] * len(batch)
        for position in refused:
            job_id, due, _ = batch[int(position) - 1]
            outcomes[int(position) - 1] = Refused(f"Redis refused job {job_id}: its due time {due!r} is not a number")
        return outcomes
