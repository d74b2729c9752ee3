"""Dramatiq with its Redis broker, worker threads as greenlets (what ``dramatiq-gevent`` runs),
default middleware, in one process."""

LABEL = "Dramatiq (gevent)"
GEVENT = True
QUEUE = "bench"

#: redis-py 8 caps a pool at 100 connections by default; with one per busy greenlet this peer
#: needs more, else it fails with "Too many connections".
BIG_POOL = "?max_connections=10000"


def version() -> str:
    import dramatiq

    return dramatiq.__version__


def _actor(url: str, fn):
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url + BIG_POOL)
    dramatiq.set_broker(broker)
    return broker, dramatiq.actor(fn, actor_name="bench_job", queue_name=QUEUE, broker=broker)


def _job(i):
    import benchlib

    benchlib.PROBE.job()


def enqueue(url: str, n: int) -> dict:
    import benchlib

    broker, actor = _actor(url, _job)
    rate = benchlib.calls_per_second(actor.send, n)
    broker.close()
    return {"enqueue": rate}


def work(cfg: dict, probe) -> None:
    from dramatiq import Worker

    broker, _ = _actor(cfg["url"], _job)
    worker = Worker(broker, worker_threads=cfg["concurrency"])
    worker.start()
    probe.ready()
    probe.finished.wait()
    probe.finished.clear()
    probe.finished.wait()
