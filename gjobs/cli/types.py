"""Argument types shared by ``gjobs-worker`` and ``gjobs``: each turns one command-line word
into a value or raises ``argparse.ArgumentTypeError`` with a message that names the word."""

from __future__ import annotations

import argparse
import math
from typing import List, Optional

from gjobs.keys import Keys


def number(text: str) -> float:
    """Any finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} must be finite")
    return value


def positive_float(text: str) -> float:
    value = number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0")
    return value


def non_negative_float(text: str) -> float:
    value = number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"{text!r} must be {least} or more")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def non_negative_int(text: str) -> int:
    return whole_number(text, 0)


def queue_name(text: str) -> str:
    """A valid queue prefix (see :class:`gjobs.keys.Keys`)."""
    try:
        Keys(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def weights(text: str) -> List[float]:
    """``5,3,1`` -> ``[5.0, 3.0, 1.0]``: positive numbers, one per ``--queue``."""
    values = [number(part) for part in text.split(",")]
    if any(value <= 0 for value in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every weight must be more than 0")
    return values


def attempts(text: str) -> Optional[int]:
    """A positive number of attempts, or ``unlimited`` (also ``none`` or ``0``) for None."""
    if text.lower() in ("none", "unlimited", "0"):
        return None
    return positive_int(text)
