"""``manage.py gjobs_worker [gjobs-worker flags]``: a worker for the project's tasks."""

from __future__ import annotations

import sys
from typing import Any, List, NoReturn

from django.core.management.base import BaseCommand


class Command(BaseCommand):  # type: ignore[misc]
    help = "Run a gjobs worker for this project's tasks; takes gjobs-worker's flags (--help lists them)."

    def run_from_argv(self, argv: List[str]) -> NoReturn:
        # gjobs-worker parses its own flags: Django's parser would refuse them.
        from asgiref.local import Local
        from django.db import connections
        from gevent import monkey

        connections.close_all()
        monkey.patch_all()  # as gjobs-worker does first; Django is set up by now
        # django.db was imported before the patch, so its connection handler keeps its connections
        # in a real thread's local: one for every greenlet of the process, which Django refuses
        # to share. A store made now is per greenlet, so each job has its own, as a request would.
        connections._connections = Local(connections.thread_critical)
        from gjobs.cli.worker import main as worker_main

        from ... import worker_argv

        sys.exit(worker_main(worker_argv(argv[2:])))

    def handle(self, *args: Any, **options: Any) -> None:
        raise SystemExit(self.run_from_argv(["manage.py", "gjobs_worker", *args]))
