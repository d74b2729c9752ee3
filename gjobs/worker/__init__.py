"""The worker of one process (:class:`Worker`) and its parts, one module per loop:

``worker``   the process: id, runner pool, slots, heartbeat thread, start/stop, status
``consumer`` one queue: its pending list and the loops below
``fetcher``  takes jobs for free slots          ``runner``   runs one job to its outcome
``settler``  reports outcomes in batches        ``promoter`` moves due delayed jobs, all queues
``liveness`` beats and recovers dead workers    ``heartbeat`` the native thread that ticks it
``loop``     error backoff and kill-between-calls for every loop
``options``  the options, their defaults and checks
"""

from .worker import Worker

__all__ = ["Worker"]
