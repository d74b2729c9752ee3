"""Several queues in one worker: helpers of the tests that run them (fixtures ``names`` and
``multis`` are in conftest)."""

import gevent

from gjobs import Queue, Worker


def make_multi(made, client, queues, delegate, **options):
    options.setdefault("heartbeat_interval", 0.5)
    options.setdefault("backoff", lambda attempt: 0)
    multi = Worker(delegate, client, queues, **options)
    made.append(multi)
    return multi


def enqueue(client, queue, count, **job):
    return Queue(client, queue).enqueue_many([dict(job, q=queue, n=n) for n in range(count)])


def completed(client, queues):
    return sum(Queue(client, name).completed_count() for name in queues)


def pending(client, queues):
    """Ids in the pending lists of every worker of these queues."""
    total = 0
    for name in queues:
        queue = Queue(client, name)
        total += sum(client.llen(queue.keys.pending(worker["id"])) for worker in queue.registry.workers())
    return total


class Recorder:
    """Runs a job for ``job["sleep"]`` seconds; notes the order jobs start in, and how many run
    at once."""

    def __init__(self):
        self.started = []
        self.running = 0
        self.peak = 0

    def call(self, job):
        self.started.append(job["q"])
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            gevent.sleep(job.get("sleep", 0))
        finally:
            self.running -= 1
