"""Task arguments travel as JSON: the check that they come back the same, and the error that
names the one that would not (a tuple arriving as a list, a date as a string, a set not at all)."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Optional

#: Characters of a value shown in an error message at most.
_SHOWN = 60


def survives_json(value: Any) -> bool:
    """The common case in one pass: ``value`` comes back equal from JSON (a tuple does not)."""
    try:
        return bool(json.loads(json.dumps(value, allow_nan=False)) == value)
    except (TypeError, ValueError):
        return False


def check_json(task_name: str, what: str, value: Any) -> None:
    problem = _json_problem(value, "")
    if problem is not None:
        raise TypeError(f"{task_name}: {what}{problem}; task arguments must survive a JSON round trip")


def _json_problem(value: Any, path: str) -> Optional[str]:
    """Why ``value`` would not come back equal from JSON, with where inside it; None if it would."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has the key {_show(key)} ({type(key).__name__}), which JSON turns into a string"
            problem = _json_problem(item, f"{path}[{key!r}]")
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            problem = _json_problem(item, f"{path}[{index}]")
            if problem is not None:
                return problem
        return None
    where = f"{path} " if path else " "
    if isinstance(value, tuple):
        return f"{where}is a tuple, which would arrive as a list"
    if isinstance(value, (_dt.date, _dt.time)):
        return f"{where}is {_show(value)} ({type(value).__name__}), which would arrive as str: pass .isoformat()"
    try:
        back = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return f"{where}is {_show(value)} ({type(value).__name__}), which JSON cannot carry"
    if back != value:
        return f"{where}is {_show(value)} ({type(value).__name__}), which would arrive as {type(back).__name__}"
    return None


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
