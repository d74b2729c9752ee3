"""gjobs: ``Server`` with a pool of ``concurrency`` greenlets, one process, set up as ``gjobs-worker``
sets up its own."""

import sys
import time

LABEL = "gjobs"
GEVENT = True
PREFIX = "bench"


def version() -> str:
    import gjobs

    return gjobs.__version__


def enqueue(url: str, n: int, **keys) -> dict:
    """``keys``: gjobs' own keys every job carries (``result_ttl``)."""
    import gjobs

    queue = gjobs.Queue.from_url(url, prefix=PREFIX)
    jobs = [{"i": i, **keys} for i in range(n)]
    started = time.perf_counter()
    queue.enqueue_many(jobs)
    rate = n / (time.perf_counter() - started)
    queue.client.close()
    return {"enqueue_many": rate}


def work(cfg: dict, probe) -> None:
    import gjobs

    client = gjobs.connect(cfg["url"])
    server = gjobs.Server(probe.job, client, prefix=PREFIX, concurrency=cfg["concurrency"])
    # Settled: every finished job reported to Redis and confirmed. This module also runs an
    # older gjobs (``scripts/bench --baseline``), whose Server kept that state itself; without
    # either, the peers' grace period instead, which puts a second of idle worker CPU in the
    # figures: say so.
    settled = _settled(server)
    if settled is not None:
        probe.settled = settled
    else:
        import benchlib

        message = (f"this gjobs' Server shows no settle state: the final snapshot waits "
                   f"{probe.grace:g} s instead, so worker CPU/job includes that idle time")
        print(f"sys_gjobs: {message}", file=sys.stderr, flush=True)
        benchlib.send(int(cfg["report_fd"]), event="warning", message=message)
    probe.baseline()
    _as_gjobs_worker_does()
    server.start()
    probe.ready()
    probe.finished.wait()
    probe.finished.clear()
    probe.finished.wait()  # until killed


def _as_gjobs_worker_does() -> None:
    """What this gjobs' ``gjobs-worker`` does to its process before the first job (the garbage
    collector's set-up), so that each version under ``--baseline`` runs as its command would."""
    from gjobs.cli import worker as cli

    step = getattr(cli, "tune_garbage_collection", None)  # older versions did nothing
    if step is not None:
        step()


def _settled(server):
    """A probe that is true once every job this server finished is confirmed by Redis."""
    worker = getattr(server, "worker", None)
    if worker is not None:
        settlers = [consumer.settler for consumer in worker.consumers]
        return lambda: not any(settler.waiting or settler.unsettled for settler in settlers)
    if all(hasattr(server, name) for name in ("_completed", "_failed", "_unsettled")):
        return lambda: not (server._completed or server._failed or server._unsettled)
    return None
