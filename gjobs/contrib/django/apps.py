"""The Django app of gjobs (see :mod:`gjobs.contrib.django`)."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class GJobsConfig(AppConfig):  # type: ignore[misc]
    name = "gjobs.contrib.django"
    label = "gjobs"
    verbose_name = "gjobs"

    def ready(self) -> None:
        from ... import middleware, tasks
        from ...queue import Queue
        from . import DatabaseConnections, queue_url, set_queue, settings

        chosen = settings()
        queue = Queue.from_url(queue_url(chosen), chosen.get("prefix", "gjobs"))
        set_queue(queue)
        tasks.set_default_queue(queue)
        middleware.use(DatabaseConnections())
        autodiscover_modules("tasks")
