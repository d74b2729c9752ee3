"""Loads the Lua scripts shipped in ``gjobs/lua`` and registers them on a client.

Each structure class registers the scripts it owns once, when it is built, with redis-py's
``register_script``: the returned object knows its SHA, runs with ``EVALSHA``, reloads itself
after a ``NOSCRIPT`` error (a restarted or failed-over Redis) and works inside pipelines.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any


@functools.lru_cache(maxsize=None)
def source(name: str) -> str:
    """The text of ``gjobs/lua/<name>.lua``; read from the package once per process."""
    return resources.files("gjobs").joinpath("lua", f"{name}.lua").read_text("utf-8")


def register(client: Any, name: str) -> Any:
    """A redis-py ``Script`` for ``name`` bound to ``client``."""
    return client.register_script(source(name))
