"""No queue at all: ``concurrency`` greenlets that run the job body in a loop. What gevent
itself reaches on this machine: the bound every system here is measured against."""

LABEL = "gevent alone (no queue)"
GEVENT = True


def version() -> str:
    import gevent

    return gevent.__version__


def enqueue(url: str, n: int) -> dict:
    return {}


def work(cfg: dict, probe, before=None) -> None:
    """Run the body in ``cfg["concurrency"]`` greenlets until ``probe.total`` runs; ``before``,
    if given, is called before each run of the body (a fetch: see sys_bare_fetch; a pass
    of gevent's loop: sys_bare_yield)."""
    import gevent

    # The process set up as gjobs-worker sets up its own (the garbage collector's settings are
    # the process's, not the queue's): else gjobs beat this bound where the collector's work
    # weighs (sleep + INCR at concurrency 1,000: 115% of it).
    from gjobs.cli.worker import tune_garbage_collection

    tune_garbage_collection()
    concurrency = cfg["concurrency"]
    share, extra = divmod(probe.total, concurrency)

    def loop(count: int) -> None:
        for _ in range(count):
            if before is not None:
                before()
            probe.job()

    probe.ready()
    for i in range(concurrency):
        gevent.spawn(loop, share + (1 if i < extra else 0))
    probe.finished.wait()
    # Until killed. A timer, not a second Event.wait: with every loop ended and nothing else
    # scheduled, gevent would end that wait with LoopExit, a traceback in the log.
    gevent.sleep(3600)
