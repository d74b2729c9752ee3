"""Celery with the Redis transport, the gevent pool (``-P gevent -c CONCURRENCY``), no result
backend, gossip, mingle and heartbeat off (they add nothing per job), one process."""

LABEL = "Celery (gevent)"
GEVENT = True


def version() -> str:
    import celery

    return celery.__version__


def _app(url: str):
    from celery import Celery

    app = Celery("bench", broker=url)
    app.conf.update(worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)
    return app, app.task(name="bench_job")(_job)


def _job(i):
    import benchlib

    benchlib.PROBE.job()


def enqueue(url: str, n: int) -> dict:
    import benchlib

    app, task = _app(url)
    rate = benchlib.calls_per_second(task.delay, n)
    app.close()
    return {"enqueue": rate}


def work(cfg: dict, probe) -> None:
    app, _ = _app(cfg["url"])
    app.worker_main([
        "worker", "-P", "gevent", "-c", str(cfg["concurrency"]), "-l", "WARNING",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ])
