"""Flask: ``GJobs(app)`` (or ``GJobs().init_app(app)``), jobs run in an app context,
``flask gjobs worker``, and the dashboard as a blueprint.

The extension reads ``app.config``: ``GJOBS_URL`` (else ``REDIS_URL``, else the local
default), ``GJOBS_PREFIX`` (``"gjobs"``) and ``GJOBS_WORKER`` (a dict of worker options for
:meth:`GJobs.worker`). It makes :attr:`GJobs.queue` the default queue, so ``@gjobs.task``
tasks enqueue there, and every job a worker started through it runs inside
``app.app_context()`` (``current_app``, extensions, the database session of Flask-SQLAlchemy).

``flask gjobs worker [gjobs-worker flags]`` runs a worker over the app's registered tasks (the
modules the app imports; ``--import`` adds others) on the app's Redis and queue.

``jobs.dashboard()`` is a blueprint serving the dashboard (:mod:`gjobs.web`) of the app's Redis
under the ``url_prefix`` it is registered with, guarded by the app's own check in the
blueprint's ``before_request`` (see README "Dashboard and metrics").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ContextManager, List, Optional, Sequence, cast

import click
from flask import Blueprint, Flask, Response, request

from ..cli.common import task_worker_argv
from ..connection import DEFAULT_URL
from ..middleware import JobContext, Middleware, installed, use
from ..queue import Queue
from ..tasks import TaskRunner, set_default_queue
from .mount import mounted_environ

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication


class AppContext(Middleware):
    """Runs each job inside ``app.app_context()``."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def around(self, job: JobContext) -> ContextManager[Any]:
        return self.app.app_context()


class GJobs:
    """The gjobs extension of a Flask app."""

    def __init__(self, app: Optional[Flask] = None) -> None:
        self.app: Optional[Flask] = None
        self.queue: Optional[Queue] = None
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        config = app.config
        url = config.get("GJOBS_URL") or config.get("REDIS_URL") or DEFAULT_URL
        self.app = app
        self.queue = Queue.from_url(url, config.get("GJOBS_PREFIX", "gjobs"))
        self.url = url
        set_default_queue(self.queue)
        app.extensions["gjobs"] = self
        app.cli.add_command(_commands(self))

    def worker(self, **options: Any) -> Any:
        """A :class:`~gjobs.Worker` of the app's tasks on its queue, each job in an app context;
        ``options`` override ``GJOBS_WORKER``."""
        from ..worker.worker import Worker  # the web side of an app never needs the worker's modules

        app, queue = self._ready()
        chosen = {**app.config.get("GJOBS_WORKER", {}), **options}
        middleware = [*installed, AppContext(app), *chosen.pop("middleware", [])]  # keeps gjobs.use()'s
        return Worker(TaskRunner(), queue.client, [queue.prefix], queue.coder, middleware=middleware, **chosen)

    def dashboard(self, name: str = "gjobs_dashboard", **options: Any) -> Blueprint:
        """A blueprint serving the dashboard of the app's Redis, GET and POST, at the ``url_prefix``
        it is registered with. ``options`` are :func:`gjobs.web.app`'s (``prefixes``: the queues
        shown, by default every queue a worker has started on; ``read_only``; ``refresh``). It
        asks for no token of its own: guard it with the blueprint's ``before_request``."""
        blueprint = Blueprint(name, __name__)
        made: List["WSGIApplication"] = []

        def serve(path: str) -> Response:
            if not made:  # on the first request: the app may be bound (init_app) after this call
                from ..web import app as dashboard_app

                made.append(dashboard_app(self._ready()[1].client, **options))
            return mounted(made[0], path)

        blueprint.add_url_rule("/", "dashboard", serve, defaults={"path": ""}, methods=["GET", "POST"])
        blueprint.add_url_rule("/<path:path>", "dashboard", serve, methods=["GET", "POST"])
        return blueprint

    def _ready(self) -> "tuple[Flask, Queue]":
        if self.app is None or self.queue is None:
            raise RuntimeError("GJobs is not bound to an app: call GJobs(app) or init_app(app) first")
        return self.app, self.queue


def worker_argv(extension: GJobs, args: Sequence[str]) -> List[str]:
    """The ``gjobs-worker`` command line for ``flask gjobs worker ARGS``: the task runner, and the
    app's Redis and queue unless ARGS name their own."""
    _, queue = extension._ready()
    return task_worker_argv(extension.url, queue.prefix, args)


def mounted(wsgi_app: "WSGIApplication", path: str) -> Response:
    """``wsgi_app``'s answer to the current request, as if mounted where its URL ends with
    ``path`` (the view's ``<path:path>``): its links stay under the view's URL. The body goes
    along as ``request.get_data()`` has it: a guard that reads ``request.form`` first leaves none."""
    environ = mounted_environ(request.environ, request.root_path + request.path, path, request.get_data())
    return cast(Response, Response.from_app(wsgi_app, environ))  # from_app makes a cls, typed as werkzeug's


def _commands(extension: GJobs) -> click.Group:
    group = click.Group("gjobs", help="gjobs: run a worker for this app's tasks.")

    @group.command("worker", context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   add_help_option=False)
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def worker(args: Sequence[str]) -> None:
        """Run a gjobs worker on this app's queue (takes gjobs-worker's flags; --help lists them)."""
        from gevent import monkey

        monkey.patch_all()  # as gjobs-worker does first; the app's modules are imported by now
        from ..cli.worker import main as worker_main

        app, _ = extension._ready()
        use(AppContext(app))
        raise SystemExit(worker_main(worker_argv(extension, args)))

    return group
