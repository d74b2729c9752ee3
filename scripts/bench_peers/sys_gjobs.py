"""gjobs: ``Server`` with a pool of ``concurrency`` greenlets, one process."""

import time

LABEL = "gjobs"
GEVENT = True
PREFIX = "bench"


def version() -> str:
    import gjobs

    return gjobs.__version__


def enqueue(url: str, n: int) -> dict:
    import gjobs

    queue = gjobs.Queue.from_url(url, prefix=PREFIX)
    jobs = [{"i": i} for i in range(n)]
    started = time.perf_counter()
    queue.enqueue_many(jobs)
    rate = n / (time.perf_counter() - started)
    queue.client.close()
    return {"enqueue_many": rate}


def work(cfg: dict, probe) -> None:
    import gjobs

    client = gjobs.connect(cfg["url"])
    server = gjobs.Server(probe.job, client, prefix=PREFIX, concurrency=cfg["concurrency"])
    # Settled: every finished job reported to Redis and confirmed.
    probe.settled = lambda: not (server._completed or server._failed or server._unsettled)
    probe.baseline()
    server.start()
    probe.ready()
    probe.finished.wait()
    probe.finished.clear()
    probe.finished.wait()  # until killed
