"""``MultiServer``: the earlier name of :class:`gjobs.worker.Worker`, which runs several queues
(or one) in one process with one concurrency limit."""

from .worker import Worker as MultiServer

__all__ = ["MultiServer"]
