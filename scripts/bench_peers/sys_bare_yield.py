"""No queue, but one pass of gevent's loop between one run of the job body and the next:
``concurrency`` greenlets that each call ``gevent.sleep(0)`` before every run of the body.

The least any queue that takes a job only for a free slot can make each job wait. Its next job
comes in a reply from Redis, and a reply is read only after the greenlet waiting for it has
gone back to gevent's loop, which first runs whatever else is ready: at least the wait this
loop pays, with no Redis call and almost no CPU. So a job system's share of gevent alone stays
below this loop's share: an upper bound for such a queue, where the one-fetch loop
(``sys_bare_fetch``) is only a reference. (Reading the reply without going back to the loop, a
blocking read, holds the whole process for the round trip instead, and measured lower still:
README, "Where a sleeping job that also talks to Redis loses".)
"""

LABEL = "gevent + one loop pass per job"
GEVENT = True

from .sys_bare import enqueue, version  # noqa: E402,F401  (no jobs to enqueue; gevent's version)


def work(cfg: dict, probe) -> None:
    from functools import partial

    import gevent

    from . import sys_bare

    sys_bare.work(cfg, probe, before=partial(gevent.sleep, 0))
