"""huey with ``RedisHuey`` (blocking dequeue), a consumer of greenlet workers, one process."""

LABEL = "huey (greenlet)"
GEVENT = True

#: redis-py 8 caps a pool at 100 connections by default; with one per busy greenlet this peer
#: needs more, else it fails with "Too many connections".
BIG_POOL = "?max_connections=10000"


def version() -> str:
    import huey

    return huey.__version__


def _task(url: str):
    from huey import RedisHuey

    huey = RedisHuey("bench", url=url + BIG_POOL)
    return huey, huey.task(name="bench_job")(_job)


def _job(i):
    import benchlib

    benchlib.PROBE.job()


def enqueue(url: str, n: int) -> dict:
    import benchlib

    huey, task = _task(url)
    rate = benchlib.calls_per_second(task, n)
    return {"enqueue": rate}


def work(cfg: dict, probe) -> None:
    huey, _ = _task(cfg["url"])
    consumer = huey.create_consumer(workers=cfg["concurrency"], worker_type="greenlet", periodic=False)
    consumer.start()
    probe.ready()
    probe.finished.wait()
    probe.finished.clear()
    probe.finished.wait()
