"""The one check for numeric options: positive (or non-negative) numbers and whole numbers.

Booleans are refused everywhere: ``True`` is an ``int`` to Python, and ``max_attempts=True``
running a job once is never what a caller meant. Every error names the option and the value.
"""

from __future__ import annotations

import math
from typing import Any, Optional


def _number(name: str, value: Any, integer: bool, least: str) -> Any:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind) or (not integer and not math.isfinite(value)):
        raise ValueError(f"{name} must be a {least} {'integer' if integer else 'number'}, not {value!r}")
    return value


def positive(name: str, value: Any, *, integer: bool = False) -> Any:
    """``value`` when it is a number above 0 (a whole one with ``integer``); else ``ValueError``."""
    if not _number(name, value, integer, "positive") > 0:
        raise ValueError(f"{name} must be a positive {'integer' if integer else 'number'}, not {value!r}")
    return value


def non_negative(name: str, value: Any, *, integer: bool = False) -> Any:
    """``value`` when it is a number of 0 or more (a whole one with ``integer``)."""
    if _number(name, value, integer, "non-negative") < 0:
        raise ValueError(f"{name} must not be negative, not {value!r}")
    return value


def optional_positive(name: str, value: Any, *, integer: bool = False) -> Optional[Any]:
    """``None``, or a value :func:`positive` accepts."""
    return None if value is None else positive(name, value, integer=integer)
