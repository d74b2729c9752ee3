"""What a worker process owns once, whatever the number of queues it runs: one heartbeat thread,
one pub/sub connection; and every connection it or a queue takes is given back."""

import os

import redis

from gjobs import Buffer, Queue, Worker

from .helpers import wait_for


def native_threads():
    """OS threads of this process."""
    return len(os.listdir("/proc/self/task"))


def threads_while_running(client, queues):
    """OS threads a started worker on ``queues`` adds, once it has beaten; and after its stop."""
    worker = Worker(Buffer(), client, queues, heartbeat_interval=0.2)
    before = native_threads()
    worker.start()
    try:
        first = Queue(client, queues[0]).registry.workers()[0]["last_beat"]
        wait_for(lambda: Queue(client, queues[0]).registry.workers()[0]["last_beat"] > first)
        running = native_threads() - before
    finally:
        worker.stop(timeout=1)
    return running, native_threads() - before


def subscribed_connections(client):
    return sum(1 for entry in client.client_list() if int(entry.get("sub", 0)) > 0)


def connections(client):
    return len(client.client_list())


def test_a_worker_on_three_queues_runs_one_heartbeat_thread(real_client, names):
    """As many threads as a worker on one queue: the heartbeat (and the thread its gevent hub
    resolves names in), gone at stop."""
    threads_while_running(real_client, names[:1])  # gevent's own pool has its threads from now on
    one = threads_while_running(real_client, names[:1])
    three = threads_while_running(real_client, names)
    assert one == three
    assert 1 <= three[0] <= 2 and three[1] == 0


def test_a_worker_on_three_queues_beats_on_every_queue(real_client, names, multis):
    worker = Worker(Buffer(), real_client, names, heartbeat_interval=0.2)
    multis.append(worker)
    worker.start()
    first = [Queue(real_client, name).registry.workers()[0]["last_beat"] for name in names]
    wait_for(lambda: all(Queue(real_client, name).registry.workers()[0]["last_beat"] > beat
                         for name, beat in zip(names, first)), message="a later beat on every queue")


def test_a_worker_on_three_queues_listens_on_one_pubsub_connection(real_client, names, multis):
    worker = Worker(Buffer(), real_client, names)
    multis.append(worker)
    before = subscribed_connections(real_client)
    worker.start()
    channels = [Queue(real_client, name).keys.wakeup for name in names]
    wait_for(lambda: all(count == 1 for _, count in real_client.pubsub_numsub(*channels)),
             message="every queue's wake-up channel subscribed")
    assert subscribed_connections(real_client) - before == 1


def test_short_lived_queues_never_exhaust_a_bounded_pool(redis_process, prefix):
    client = redis.Redis(host="127.0.0.1", port=redis_process.port, max_connections=3)
    try:
        kept = [Queue(client, prefix) for _ in range(4)]  # one more queue than the pool has connections
        ids = [queue.enqueue({"n": n}) for n, queue in enumerate(kept)]
        assert len(set(ids)) == 4 and Queue(client, prefix).ready_list.size() == 4
        assert len(client.connection_pool._in_use_connections) == 0
    finally:
        client.close()


def test_a_worker_gives_back_every_connection_it_took(redis_process, real_client, names):
    client = redis.Redis(host="127.0.0.1", port=redis_process.port)
    buffer = Buffer()
    before = connections(real_client)
    worker = Worker(buffer, client, names, heartbeat_interval=0.2)
    worker.start()
    Queue(client, names[2]).enqueue({"n": 1})
    assert buffer.pop(timeout=5) == {"n": 1}
    worker.stop(timeout=1)
    pool = client.connection_pool
    assert len(pool._in_use_connections) == 0
    # Connections left open are the pool's idle ones, ready for the next call: nothing else.
    idle = sum(1 for connection in pool._available_connections if connection._sock is not None)
    wait_for(lambda: connections(real_client) == before + idle, message="the worker's other connections closed")
    client.close()


def test_a_queue_made_from_a_url_closes_its_connections_with_it(redis_process, real_client, prefix):
    before = connections(real_client)
    with Queue.from_url(redis_process.url, prefix) as queue:
        queue.enqueue({"n": 1})
        assert connections(real_client) == before + 1
    wait_for(lambda: connections(real_client) == before, message="the queue's connection closed")


def test_a_queue_leaves_a_client_it_was_given_open(real_client, prefix):
    with Queue(real_client, prefix) as queue:
        queue.enqueue({"n": 1})
    assert real_client.ping()


def test_running_a_job_gives_the_garbage_collector_no_closure_cells_to_count():
    # A closure in JobRunner.run made four cells per job, middleware or not; with 1,000 sleeping
    # jobs the collector then ran three times as often (1.7 us a job, measured).
    from gjobs.worker.runner import JobRunner

    assert JobRunner.run.__code__.co_cellvars == ()
