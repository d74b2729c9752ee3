#!/usr/bin/env python3
"""What 1,000 schedules cost a worker: its CPU and its Redis calls per minute.

    scripts/cron_cost.py [--schedules 1000] [--seconds 60]

Starts a private redis-server and runs one worker for ``--seconds`` twice: with no schedule
(an idle worker: its fetch loop's blocking waits and its heartbeats), then with the schedules
(half cron expressions on minutes spread over the hour, half every 60 s; overlap allowed, so
that every tick fires), whose jobs go to a
queue no worker serves so that running them is not counted. Prints, per minute, the worker's
CPU (rusage), its script calls and every Redis command (INFO commandstats, which counts the
commands scripts run too) and the ticks fired, for both, and the difference.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402
import redis  # noqa: E402

import gjobs  # noqa: E402
from gjobs.embedded import RedisProcess  # noqa: E402
from gjobs.schedule import Schedule  # noqa: E402


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(client, schedules, seconds):
    """(CPU seconds, script calls, commands, ticks fired) of one worker over ``seconds``."""
    worker = gjobs.Worker(lambda job: None, client, ["cost"], schedules=schedules)
    worker.start()
    gevent.sleep(2)  # past the start-up declaration
    client.config_resetstat()
    fired_before = client.llen("{elsewhere}:ready")
    before, started = cpu(), time.monotonic()
    gevent.sleep(seconds)
    used, elapsed = cpu() - before, time.monotonic() - started
    stats = client.info("commandstats")
    fired = client.llen("{elsewhere}:ready") - fired_before
    worker.stop()
    scripts = sum(v["calls"] for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    commands = sum(v["calls"] for k, v in stats.items()
                   if k not in ("cmdstat_evalsha", "cmdstat_eval", "cmdstat_config|resetstat", "cmdstat_llen"))
    per_minute = 60 / elapsed
    return used * per_minute, scripts * per_minute, commands * per_minute, fired * per_minute


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--schedules", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args()
    server = RedisProcess().start()
    try:
        client = redis.Redis(port=server.port, host="127.0.0.1")
        half = args.schedules // 2
        schedules = [Schedule(f"cron-{n}", {"n": n}, cron=f"{n % 60} * * * *", queue="elsewhere",
                              overlap=True)
                     for n in range(half)]
        schedules += [Schedule(f"every-{n}", {"n": n}, every=60, queue="elsewhere", overlap=True)
                      for n in range(args.schedules - half)]
        idle = measure(client, [], args.seconds)
        busy = measure(client, schedules, args.seconds)
        for label, figures in (("no schedule", idle), (f"{args.schedules} schedules", busy),
                               ("difference", tuple(b - a for a, b in zip(idle, busy)))):
            used, scripts, commands, fired = figures
            print(f"{label:>15}: worker CPU {used * 1000:6.0f} ms/min, script calls {scripts:5.0f}/min, "
                  f"Redis commands {commands:6.0f}/min, ticks fired {fired:4.0f}/min")
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
