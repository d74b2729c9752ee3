"""RQ with ``SimpleWorker`` (jobs run one at a time in the worker process, no fork), burst mode.

RQ has no gevent mode of its own, so its concurrency is 1 whatever the workload asks for.
"""

LABEL = "RQ (SimpleWorker)"
GEVENT = False
QUEUE = "bench"


def version() -> str:
    import rq

    return rq.__version__


def job(i):
    import benchlib

    benchlib.PROBE.job()


def enqueue(url: str, n: int) -> dict:
    import benchlib
    from redis import Redis
    from rq import Queue

    queue = Queue(QUEUE, connection=Redis.from_url(url))
    rate = benchlib.calls_per_second(lambda i: queue.enqueue("bench_peers.sys_rq.job", i), n)
    return {"enqueue": rate}


def work(cfg: dict, probe) -> None:
    from redis import Redis
    from rq import Queue, SimpleWorker

    connection = Redis.from_url(cfg["url"])
    worker = SimpleWorker([Queue(QUEUE, connection=connection)], connection=connection)
    probe.ready()
    worker.work(burst=True, logging_level="WARNING")
    probe.finished.wait()
    probe.finished.clear()
    probe.finished.wait()
