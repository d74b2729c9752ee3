"""Schedules a worker process declares with ``--import tests.periodic_jobs``; their jobs are run
by ``tests.fault_delegates:record_tick``."""

import gjobs

gjobs.periodic(every=1, name="every-second", job={"schedule": "every-second"})
