"""The dashboard (:mod:`gjobs.web`) as a Django view, guarded by the project's own authentication.

In ``urls.py``, with the path's end captured as ``path`` (see README "Dashboard and metrics")::

    re_path(r"^admin/gjobs/(?P<path>.*)$", staff_member_required(dashboard)),

The view calls the dashboard of the ``GJOBS`` setting's Redis (every queue a worker has started
on) with ``SCRIPT_NAME`` set to the view's URL, so that every link stays under it. It is exempt
from Django's CSRF check because the dashboard checks its own token on every action (its forms
carry no ``csrfmiddlewaretoken``); the project's login guards who reaches it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Tuple, cast

from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from ..mount import mounted_environ
from . import queue

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

View = Callable[..., HttpResponse]


def dashboard_view(**options: Any) -> View:
    """A view of the dashboard; ``options`` are :func:`gjobs.web.app`'s (``prefixes``: the queues
    shown; ``read_only``; ``refresh``)."""
    made: List["WSGIApplication"] = []

    def dashboard(request: HttpRequest, path: str = "") -> HttpResponse:
        if not made:  # on the first request: the GJOBS setting's queue exists once Django is ready
            from ...web import app

            made.append(app(queue().client, **options))
        # The scheme and host Django trusts (SECURE_PROXY_SSL_HEADER, USE_X_FORWARDED_HOST): the
        # dashboard checks a browser's Origin against that host, as Django's CSRF check does.
        environ = {**request.META, "wsgi.url_scheme": request.scheme, "HTTP_HOST": request.get_host()}
        return answer(made[0], mounted_environ(environ, request.path, path, request.body))

    return cast(View, csrf_exempt(dashboard))


def answer(wsgi_app: "WSGIApplication", environ: Dict[str, Any]) -> HttpResponse:
    """``wsgi_app``'s answer to ``environ`` as a Django response, every ``Set-Cookie`` kept.

    A Django response holds one value per header name and writes its cookies from
    ``response.cookies``, so each ``Set-Cookie`` the application sends is loaded there (setting
    the header twice would keep the last cookie only).
    """
    started: List[Tuple[str, List[Tuple[str, str]]]] = []

    def start_response(status: str, headers: List[Tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], Any]:
        started[:] = [(status, headers)]
        return _no_write

    chunks: Iterable[bytes] = wsgi_app(environ, start_response)
    try:
        body = b"".join(chunks)  # one page: the dashboard reads a bounded amount for each
    finally:
        getattr(chunks, "close", lambda: None)()
    [(status, headers)] = started
    code, _, reason = status.partition(" ")
    response = HttpResponse(body, status=int(code), reason=reason or None)
    for name, value in headers:
        if name.lower() == "set-cookie":
            response.cookies.load(value)
        else:
            response[name] = value
    return response


def _no_write(data: bytes) -> None:
    raise NotImplementedError("the dashboard returns its body; it never calls write()")


#: The view of the dashboard of every queue on the ``GJOBS`` setting's Redis.
dashboard = dashboard_view()
