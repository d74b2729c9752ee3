"""A WSGI application answering from a view of Flask or Django, as if mounted at the view's URL.

The dashboard (:mod:`gjobs.web`) is a WSGI application of its own. A project serves it from a
view of its own, behind its own authentication, by calling it with ``SCRIPT_NAME`` set to where
the view is (every link the dashboard builds starts there) and ``PATH_INFO`` set to the rest of
the URL, which the view's URL pattern captured.
"""

from __future__ import annotations

import io
import sys
from typing import Any, Dict, Mapping


def mounted_environ(environ: Mapping[str, Any], path: str, rest: str, body: bytes) -> Dict[str, Any]:
    """A copy of ``environ`` for the application mounted where the request's URL ``path`` (its
    whole path, decoded, the framework's own ``SCRIPT_NAME`` included) ends with ``rest``.

    ``rest`` becomes ``PATH_INFO`` and what comes before it ``SCRIPT_NAME``. ``body`` is the
    request's body, which the framework may have read already: the copy reads it from memory.
    """
    if not path.endswith(rest):
        raise ValueError(f"{rest!r} does not end the URL {path!r}: the view's path must end its URL pattern")
    mounted = dict(environ)
    mounted.update({
        "SCRIPT_NAME": wsgi_string(path[: len(path) - len(rest)].rstrip("/")),
        "PATH_INFO": wsgi_string("/" + rest.lstrip("/")),
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
    })
    # An ASGI server's request carries no WSGI keys of its own.
    mounted.setdefault("wsgi.errors", sys.stderr)
    mounted.setdefault("wsgi.url_scheme", "http")
    return mounted


def wsgi_string(text: str) -> str:
    """A path as WSGI carries it: each byte of its UTF-8 as one latin-1 character (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")
