"""``gjobs web``: the dashboard (:mod:`gjobs.web`) served by gevent's WSGI server.

It binds 127.0.0.1:8787 unless ``--bind`` says otherwise. Actions need a token: ``--auth``,
else ``$GJOBS_WEB_AUTH``, else one made at start and printed with the login address (as a
notebook server does), so that a dashboard is never open to anyone who can reach its port.
``--read-only`` turns actions off. ``gjobs`` patches with gevent before it imports anything when
its command is ``web`` (see :func:`gjobs.__main__.admin`), so one process serves many browsers.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
from typing import Any, Callable, TextIO, Tuple

from gjobs.cli.common import Failure
from gjobs.cli.types import positive_float
from gjobs.connection import redact

Common = Callable[..., None]
#: Where the dashboard listens unless ``--bind`` says otherwise: this machine only.
DEFAULT_BIND = "127.0.0.1:8787"
#: The environment variable that may hold the token actions need.
AUTH_ENV = "GJOBS_WEB_AUTH"


def bind_address(text: str) -> Tuple[str, int]:
    """``HOST:PORT``, ``:PORT`` (this machine) or ``[IPv6]:PORT``; port 0 picks a free one."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT (e.g. 127.0.0.1:8787)")
    return host.strip("[]") or "127.0.0.1", int(port)


def register(commands: Any, common: Common) -> None:
    web = commands.add_parser("web", help="the dashboard and /metrics, served over HTTP")
    common(web, many_prefixes=True, json=False)
    web.add_argument("--bind", type=bind_address, default=bind_address(DEFAULT_BIND), metavar="HOST:PORT",
                     help=f"where to listen (default {DEFAULT_BIND}; port 0 picks a free one)")
    web.add_argument("--auth", metavar="TOKEN",
                     help=f"the token that actions need (default: ${AUTH_ENV}, else one made at start and printed)")
    web.add_argument("--read-only", action="store_true", help="show the pages, refuse every action")
    web.add_argument("--refresh", type=positive_float, default=3.0, metavar="SECONDS",
                     help="seconds between the pages' own refreshes (default 3)")
    web.set_defaults(run=cmd_web)


def cmd_web(args: argparse.Namespace, client: Any, out: TextIO) -> int:
    from gevent import pywsgi

    from gjobs.web import Dashboard
    from gjobs.web.security import new_token

    token = None if args.read_only else (args.auth or os.environ.get(AUTH_ENV) or None)
    made = not args.read_only and token is None
    if made:
        token = new_token()
    dashboard = Dashboard(client, args.prefixes, auth=token, read_only=args.read_only, refresh=args.refresh,
                          label=args.redis_url)
    try:
        server = pywsgi.WSGIServer(args.bind, dashboard, log=None)
        server.init_socket()
        # gevent writes a response's headers and body apart: without NODELAY, a kept-alive
        # browser connection waits for a delayed ACK (about 40 ms) before each body.
        server.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError as error:
        raise Failure(f"cannot listen on {args.bind[0]}:{args.bind[1]}: {error}") from None
    host, port = server.address[:2]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}/"
    queues = ", ".join(args.prefixes) if args.prefixes else "every queue"
    mode = "read-only" if args.read_only else "actions need the token"
    _say(f"serving {base} ({queues} on {redact(args.redis_url)}; {mode}; Ctrl-C stops)")
    if made:
        _say(f"actions need this token, made now: log in at {base}login?token={token}")
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: server.stop(timeout=1))
    server.serve_forever()
    return 0


def _say(line: str) -> None:
    print(f"gjobs web: {line}", file=sys.stderr, flush=True)
