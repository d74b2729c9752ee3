"""Several queues in one worker, sharing one concurrency limit.

Each queue gets a full :class:`~gjobs.server.Server` of its own (its own pending list, registry
entry, promoter and recovery), and all of them draw from one :class:`~gjobs.slots.Slots`: freed
slots go to the highest-priority queue that has work (or by weight). Every queue blocks on its
own ready list, so a job on one queue never waits out another queue's block timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from typing import Any, List, Optional, Sequence

import gevent

from .coder import DEFAULT
from .runners import Runners
from .server import DEFAULT_CONCURRENCY, Server, _positive
from .slots import Slots

logger = logging.getLogger("gjobs")


class MultiServer:
    """Runs ``queues`` (prefixes, highest priority first) with ``delegate``.

    ``concurrency`` bounds the jobs running at once over all queues (and the jobs taken from
    Redis and not yet finished). Priority is strict unless ``weights`` (one positive number per
    queue) is given: then a freed slot goes to a waiting queue at random, in proportion to its
    weight. Other options are those of ``Server``; ``parent`` is shared by all queues (by
    default ``concurrency`` reusable greenlets).

    A queue with nothing to do blocks on its own ready list holding one slot, so that the job it
    receives starts at once: give at least one slot per queue. With fewer, queues take turns to
    block, and a job may wait up to ``block_timeout`` per other queue.
    """

    def __init__(
        self,
        delegate: Any,
        client: Any,
        queues: Sequence[str],
        coder: Any = DEFAULT,
        resolution: float = 10,
        parent: Any = None,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        weights: Optional[Sequence[float]] = None,
        worker_id: Optional[str] = None,
        **options: Any,
    ) -> None:
        queues = list(queues)
        concurrency = _positive("concurrency", concurrency, integer=True)
        if not queues or len(set(queues)) != len(queues):
            raise ValueError(f"queues must be distinct names, at least one: {queues!r}")
        if weights is not None and len(weights) != len(queues):
            raise ValueError(f"give one weight per queue: {len(queues)} queues, {len(weights)} weights")
        # A bounded parent smaller than the limit lowers it: taking more jobs than can start
        # would hold them in a pending list while another worker could run them.
        size = getattr(parent, "size", None)
        if isinstance(size, int) and 0 < size < concurrency:
            concurrency = size
        self.slots = Slots(concurrency, weights)
        if concurrency < len(queues):
            logger.warning(
                "concurrency %d is below the number of queues (%d): idle queues take turns to wait "
                "for jobs, and a job may wait a block timeout per other queue before it starts",
                concurrency, len(queues),
            )
        worker_id = worker_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._own_parent = parent is None  # our runners are ours to end at stop
        parent = parent if parent is not None else Runners(concurrency)
        self.parent = parent
        self.servers: List[Server] = [
            Server(delegate, client, prefix=name, coder=coder, resolution=resolution, parent=parent,
                   concurrency=concurrency, slots=self.slots, rank=rank, worker_id=worker_id, **options)
            for rank, name in enumerate(queues)
        ]
        self.id = worker_id

    @property
    def queues(self) -> List[str]:
        return [server.keys.prefix for server in self.servers]

    @property
    def running(self) -> bool:
        return any(server.running for server in self.servers)

    @property
    def in_progress(self) -> int:
        return sum(server.in_progress for server in self.servers)

    @property
    def shutdown_timeout(self) -> float:
        return self.servers[0].shutdown_timeout

    def server(self, queue: str) -> Server:
        for server in self.servers:
            if server.keys.prefix == queue:
                return server
        raise KeyError(f"no queue {queue!r} here; queues: {self.queues}")

    def call(self, job: dict, queue: Optional[str] = None) -> str:
        """Enqueue ``job`` on ``queue`` (the highest-priority one by default)."""
        return (self.server(queue) if queue else self.servers[0]).call(job)

    @property
    def concurrency(self) -> int:
        """Jobs run at once over all queues."""
        return self.slots.total

    def start(self) -> bool:
        """Start every queue, highest priority first. Returns False if already started.

        If one cannot start, those already started are stopped and the error is raised.
        """
        if self.running:
            return False
        try:
            for server in self.servers:
                server.start()
        except BaseException:
            try:
                self.stop(timeout=0)
            except Exception:
                logger.exception("worker %s: could not stop the queues already started", self.id)
            raise
        return True

    def stop(self, timeout: Optional[float] = None) -> None:
        """Stop every queue at once (fetching stops everywhere before any waiting begins), with
        the contract of :meth:`Server.stop`."""
        try:
            gevent.joinall([gevent.spawn(server.stop, timeout) for server in self.servers], raise_error=True)
        finally:
            if self._own_parent and not self.running:
                self.parent.kill()  # the idle runners: nothing else would end them

    def hurry(self) -> None:
        for server in self.servers:
            server.hurry()

    def status_string(self) -> str:
        """One status line per queue, ``queue: R=.. D=.. P=../..``, joined by ``; ``."""
        return "; ".join(f"{server.keys.prefix}: {server.status_string()}" for server in self.servers)

    def __enter__(self) -> "MultiServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
