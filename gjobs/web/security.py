"""What guards the dashboard's actions: the login token, the CSRF check, and the headers.

Reading pages changes nothing; every action is a POST that must pass, in order:

* **read-only**: a dashboard started with ``read_only`` refuses every action.
* **login** (only when the dashboard has a token of its own, as ``gjobs web`` has): the
  ``gjobs_auth`` cookie must hold the token's HMAC, which ``/login`` sets. The cookie never
  holds the token itself, and any process started with the same token accepts it, so several
  ``gjobs web`` processes behind one address agree. Mounted in an application, the dashboard
  has no token and the application's own authentication guards its URL.
* **same origin**: a browser's ``Origin`` (or ``Sec-Fetch-Site``) that names another site is
  refused.
* **CSRF** (double submit): every form carries the value of the ``gjobs_csrf`` cookie, which a
  page of another site can neither read nor set (``SameSite=Strict``, ``HttpOnly``); a POST
  whose form value differs from the cookie is refused.

Every response carries a Content-Security-Policy that allows only the dashboard's own script and
style files: even a payload that escaped the templates' escaping could not run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Dict, Optional
from urllib.parse import urlsplit

from werkzeug.wrappers import Request

#: The cookie holding the CSRF token that every form repeats.
CSRF_COOKIE = "gjobs_csrf"
#: The cookie proving a login (the HMAC of the token).
AUTH_COOKIE = "gjobs_auth"
#: Seconds a login lasts.
LOGIN_AGE = 12 * 3600

HEADERS: Dict[str, str] = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class Refused(Exception):
    """An action that must not run; the message says why, for the person who tried."""


def new_token() -> str:
    """A random token, for a dashboard started without one."""
    return secrets.token_urlsafe(24)


def login_proof(token: str) -> str:
    """What the login cookie holds for ``token``: its HMAC, never the token itself."""
    return hmac.new(token.encode(), b"gjobs-web-login", hashlib.sha256).hexdigest()


def token_matches(token: str, given: Optional[str]) -> bool:
    return given is not None and hmac.compare_digest(token.encode(), given.encode())


def logged_in(request: Request, token: Optional[str]) -> bool:
    """True when the dashboard needs no login of its own, or the request carries it."""
    if token is None:
        return True
    proof = request.cookies.get(AUTH_COOKIE, "")
    return hmac.compare_digest(login_proof(token).encode(), proof.encode())


def csrf_token(request: Request) -> str:
    """The request's CSRF token: its cookie's, or a new one (the response sets it)."""
    given = request.cookies.get(CSRF_COOKIE, "")
    return given if len(given) >= 32 else secrets.token_urlsafe(32)


def check_action(request: Request, token: Optional[str], read_only: bool) -> None:
    """Raise :class:`Refused` unless the POST ``request`` may change anything."""
    if read_only:
        raise Refused("this dashboard is read-only: actions are turned off")
    if not logged_in(request, token):
        raise Refused("actions need the dashboard's token: log in first")
    check_origin(request)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.form.get("csrf", "")
    if len(cookie) < 32 or not hmac.compare_digest(cookie.encode(), sent.encode()):
        raise Refused("the form's CSRF token does not match: reload the page and try again")


def check_origin(request: Request) -> None:
    """Raise :class:`Refused` when the browser says the request comes from another site."""
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        raise Refused("a request from another site was refused")
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:  # "null" too (sandboxed frames)
        raise Refused(f"a request from another origin ({origin}) was refused")
