"""The dashboard as a WSGI application: pages, actions, the metrics and the static files.

``Dashboard(client)`` is an ordinary WSGI callable, so ``gjobs web`` serves it with gevent's
WSGI server, ``gunicorn -k gevent 'gjobs.web:app("redis://...")'`` runs it, and a Flask or
Django project mounts it under a path of its own (it builds every link from ``SCRIPT_NAME``).
"""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any, Callable, Dict, Iterable, List, Optional
from urllib.parse import quote, unquote

import redis
from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.utils import redirect
from werkzeug.wrappers import Request, Response

import gjobs.web.actions as actions
import gjobs.web.pages as pages
import gjobs.web.security as security

from ..clock import redis_now
from ..connection import connect, redact
from ..keys import Keys
from ..queue import Queue

logger = logging.getLogger("gjobs")

#: Seconds between two refreshes of a page in the browser.
DEFAULT_REFRESH = 3.0
#: The cookie that carries the outcome of an action to the page after the redirect.
FLASH_COOKIE = "gjobs_flash"
#: The largest offset a listing is asked for: past any list's end, and within the 64-bit
#: integers Redis takes for a range (a larger one would fail as a Redis error).
MAX_OFFSET = 10**15
#: Seconds a dashboard made from a URL waits for Redis to connect or answer.
REDIS_TIMEOUT = 10.0
STATIC = {"gjobs.css": "text/css; charset=utf-8", "gjobs.js": "text/javascript; charset=utf-8"}

_RULES = [
    Rule("/", endpoint="overview"),
    Rule("/workers", endpoint="workers"),
    Rule("/schedules", endpoint="schedules"),
    Rule("/queues/<queue>", endpoint="queue"),
    Rule("/queues/<queue>/dead", endpoint="dead"),
    Rule("/queues/<queue>/jobs/<path:job_id>", endpoint="job", methods=["GET"]),
    Rule("/login", endpoint="login", methods=["GET", "POST"]),
    Rule("/logout", endpoint="logout", methods=["POST"]),
    Rule("/metrics", endpoint="metrics"),
    Rule("/static/<name>", endpoint="static"),
    # Actions: POST only; the endpoint names the action in gjobs.web.actions.ACTIONS.
    Rule("/queues/<queue>/pause", endpoint="pause", methods=["POST"]),
    Rule("/queues/<queue>/resume", endpoint="resume", methods=["POST"]),
    Rule("/queues/<queue>/dead/retry", endpoint="dead-retry", methods=["POST"]),
    Rule("/queues/<queue>/dead/delete", endpoint="dead-delete", methods=["POST"]),
    Rule("/queues/<queue>/<any(ready, delayed):part>/delete", endpoint="delete", methods=["POST"]),
    Rule("/queues/<queue>/delayed/run-now", endpoint="run-now", methods=["POST"]),
    Rule("/queues/<queue>/jobs/<path:job_id>/cancel", endpoint="cancel", methods=["POST"]),
    # A schedule's name is any string: "reports/daily" too.
    Rule("/queues/<queue>/schedules/<path:schedule>/<any(run, pause, resume):verb>", endpoint="schedule",
         methods=["POST"]),
]


class Dashboard:
    """The dashboard of the queues ``prefixes`` (every queue a worker has started on when None)
    on ``client``.

    ``auth``: a token that actions need (``/login`` asks for it); None when the application
    that mounts the dashboard guards its URL itself. ``read_only`` turns every action off.
    ``refresh``: seconds between the page's own refreshes. ``label``: what the header says the
    dashboard is connected to (passwords are never shown).
    """

    def __init__(self, client: Any, prefixes: Optional[Iterable[str]] = None, *, auth: Optional[str] = None,
                 read_only: bool = False, refresh: float = DEFAULT_REFRESH, label: str = "") -> None:
        self.client = client
        self.prefixes = None if prefixes is None else [Keys(p).prefix for p in prefixes]
        self.auth = auth or None
        self.read_only = read_only
        self.refresh = refresh
        self.label = redact(label)
        # A copy of each rule: a Rule binds to one Map, and a process may hold several dashboards.
        self.urls = Map([rule.empty() for rule in _RULES])
        self.templates = Environment(loader=PackageLoader("gjobs.web", "templates"),
                                     autoescape=select_autoescape(default=True, default_for_string=True))
        self._collector: Any = None

    def __call__(self, environ: Dict[str, Any], start_response: Any) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.dispatch(request)
        except HTTPException as error:
            response = self.render(request, "error.html", {"message": error.description}, status=error.code or 500)
        except redis.RedisError as error:
            logger.warning("dashboard: Redis failed on %s: %s", request.path, redact(str(error)))
            response = self.render(request, "error.html", {"message": f"Redis failed: {redact(str(error))}"},
                                   status=503)
        for name, value in security.HEADERS.items():
            response.headers.setdefault(name, value)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        endpoint, values = self.urls.bind_to_environ(request.environ).match()
        if request.method == "POST" and endpoint not in ("login", "logout"):
            return self.act(request, endpoint, dict(values))
        name = endpoint if endpoint in ("static", "metrics", "login", "logout") else f"page_{endpoint}"
        handler: Callable[..., Response] = getattr(self, name)
        return handler(request, **values)

    # -- pages ------------------------------------------------------------------------------------

    def page_overview(self, request: Request) -> Response:
        now = redis_now(self.client)
        queues = self.queues()
        rows = [pages.summary(queue, now) for queue in queues]
        return self.render(request, "overview.html", {"rows": rows, "chart": pages.history(queues, now)})

    def page_workers(self, request: Request) -> Response:
        now = redis_now(self.client)
        return self.render(request, "workers.html", {"workers": pages.workers(self.queues(), now)})

    def page_schedules(self, request: Request) -> Response:
        now = redis_now(self.client)
        return self.render(request, "schedules.html", {"schedules": pages.schedules(self.queues(), now)})

    def page_queue(self, request: Request, queue: str) -> Response:
        found, now = self.queue(queue), redis_now(self.client)
        ready, delayed = (pages.listing(found, part, offset(request, part), now) for part in ("ready", "delayed"))
        return self.render(request, "queue.html", {
            "queue": pages.summary(found, now), "chart": pages.history([found], now), "ready": ready,
            "delayed": delayed, "offsets": {"ready": ready["offset"], "delayed": delayed["offset"]},
        })

    def page_dead(self, request: Request, queue: str) -> Response:
        found, now = self.queue(queue), redis_now(self.client)
        return self.render(request, "dead.html", {"name": found.prefix,
                                                  "dead": pages.dead(found, offset(request, "offset"), now)})

    def page_job(self, request: Request, queue: str, job_id: str) -> Response:
        found, now = self.queue(queue), redis_now(self.client)
        job = pages.job(found, job_id, now)
        return self.render(request, "job.html", {"name": found.prefix, "job": job},
                           status=404 if job["state"] == "unknown" else 200)

    # -- actions ------------------------------------------------------------------------------------

    def act(self, request: Request, endpoint: str, values: Dict[str, str]) -> Response:
        try:
            # First, so that whoever may not act learns nothing, not even which queues exist.
            security.check_action(request, self.auth, self.read_only)
        except security.Refused as refused:
            logger.warning("dashboard: refused %s %s: %s", request.method, request.path, refused)
            return self.render(request, "error.html", {"refused": str(refused)}, status=403)
        found = self.queue(values["queue"])
        form = request.form.copy()
        if "job_id" in values:
            form["one"] = values["job_id"]
        if "schedule" in values:
            form["schedule"] = values["schedule"]
            endpoint = f"schedule-{values['verb']}"
        try:
            said = actions.ACTIONS[endpoint](found, form)
        except actions.BadForm as bad:
            return self.render(request, "error.html", {"message": str(bad)}, status=400)
        logger.info("dashboard: %s", said)
        target = self.local(request, request.form.get("next")) or self.link(request, f"queues/{quote(found.prefix)}")
        response = redirect(target, 303)
        response.set_cookie(FLASH_COOKIE, quote(said), max_age=60, httponly=True, samesite="Strict",
                            path=self.root(request))
        return response

    def login(self, request: Request) -> Response:
        if self.auth is None:
            return redirect(self.link(request, ""), 303)
        given = request.values.get("token")
        if given is None:
            return self.render(request, "login.html", {})
        if request.method == "POST":
            try:
                security.check_origin(request)
            except security.Refused as refused:
                return self.render(request, "error.html", {"refused": str(refused)}, status=403)
        if not security.token_matches(self.auth, given):
            logger.warning("dashboard: a login with a wrong token was refused")
            return self.render(request, "error.html", {"refused": "wrong token"}, status=403)
        response = redirect(self.link(request, ""), 303)
        response.set_cookie(security.AUTH_COOKIE, security.login_proof(self.auth), max_age=security.LOGIN_AGE,
                            httponly=True, samesite="Strict", path=self.root(request))
        return response

    def logout(self, request: Request) -> Response:
        try:
            security.check_origin(request)
        except security.Refused as refused:
            return self.render(request, "error.html", {"refused": str(refused)}, status=403)
        response = redirect(self.link(request, ""), 303)
        response.delete_cookie(security.AUTH_COOKIE, path=self.root(request))
        return response

    # -- the rest ---------------------------------------------------------------------------------

    def metrics(self, request: Request) -> Response:
        from prometheus_client import CollectorRegistry, generate_latest  # the web extra brings it

        from ..metrics import GJobsCollector

        if self._collector is None:
            registry = CollectorRegistry()
            registry.register(GJobsCollector(self.client, self.prefixes))
            self._collector = registry
        return Response(generate_latest(self._collector), content_type="text/plain; version=0.0.4; charset=utf-8")

    def static(self, request: Request, name: str) -> Response:
        if name not in STATIC:
            raise NotFound()
        body = resources.files("gjobs.web").joinpath("static", name).read_bytes()
        response = Response(body, content_type=STATIC[name])
        response.headers["Cache-Control"] = "max-age=300"
        return response

    def queues(self) -> List[Queue]:
        return [Queue(self.client, name) for name in pages.queue_names(self.client, self.prefixes)]

    def queue(self, name: str) -> Queue:
        """The queue ``name`` if this dashboard shows it; else 404."""
        if name not in pages.queue_names(self.client, self.prefixes):
            raise NotFound(f"no queue {name!r} here")
        return Queue(self.client, name)

    def render(self, request: Request, template: str, context: Dict[str, Any], status: int = 200) -> Response:
        csrf = security.csrf_token(request)
        flash = request.cookies.get(FLASH_COOKIE)
        page = self.templates.get_template(template).render(
            context, root=self.root(request), csrf=csrf, refresh=self.refresh, read_only=self.read_only,
            logged_in=security.logged_in(request, self.auth), own_auth=self.auth is not None, label=self.label,
            flash=None if flash is None else unquote(flash), path=self.here(request),
        )
        response = Response(page, status=status, content_type="text/html; charset=utf-8")
        response.headers["Cache-Control"] = "no-store"
        if request.cookies.get(security.CSRF_COOKIE) != csrf:
            response.set_cookie(security.CSRF_COOKIE, csrf, httponly=True, samesite="Strict", path=self.root(request))
        if flash is not None:
            response.delete_cookie(FLASH_COOKIE, path=self.root(request))
        return response

    @staticmethod
    def root(request: Request) -> str:
        """The mount point: ``/`` for ``gjobs web``, the application's path when mounted."""
        return request.script_root.rstrip("/") + "/"

    @staticmethod
    def here(request: Request) -> str:
        """This page's address as sent (quoted), where an action's form comes back to."""
        query = request.query_string.decode("latin-1")
        return quote(request.script_root + request.path) + (f"?{query}" if query else "")

    def link(self, request: Request, path: str) -> str:
        return self.root(request) + path

    def local(self, request: Request, target: Optional[str]) -> Optional[str]:
        """``target`` if it is a path under the mount point (never another site), else None."""
        if not target or not target.startswith(quote(self.root(request))) or target.startswith("//"):
            return None
        # Browsers drop tabs and newlines from a Location and read a backslash as a slash, so
        # "/\t/evil.example" would leave the site: a target with any of them is refused.
        if "\\" in target or any(ch.isspace() or not ch.isprintable() for ch in target):
            return None
        return target


def offset(request: Request, name: str) -> int:
    """A listing's offset from the query (0 when missing or not a number), at most :data:`MAX_OFFSET`."""
    value = request.args.get(name, "0")
    # isdigit() alone admits "²", which int() refuses.
    return min(int(value), MAX_OFFSET) if value.isascii() and value.isdigit() else 0


def app(url_or_client: Any = "redis://localhost:6379/0", prefixes: Optional[Iterable[str]] = None,
        **options: Any) -> Dashboard:
    """A :class:`Dashboard` on a Redis URL (Cluster and Sentinel URLs too; a page fails after
    :data:`REDIS_TIMEOUT` seconds of silence rather than hang) or a redis-py client."""
    if isinstance(url_or_client, str):
        client = connect(url_or_client, socket_connect_timeout=REDIS_TIMEOUT, socket_timeout=REDIS_TIMEOUT)
        return Dashboard(client, prefixes, label=url_or_client, **options)
    return Dashboard(url_or_client, prefixes, **options)
