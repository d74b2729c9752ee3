"""Human-readable counts for the status line, as the Ruby ``string-format`` gem writes them."""

from __future__ import annotations

import math

#: Unit suffixes, one per factor of 1000.
UNITS = ("", "K", "M", "B", "T", "P", "E", "Z", "Y")


def format_count(count: float) -> str:
    """``999 -> '999'``, ``1000 -> '1.0K'``, ``1235 -> '1.24K'``, ``2340000 -> '2.34M'``.

    Below 1000 the number is shown as is. From 1000 it is divided by 1000 per unit and rounded
    to two decimals, halves away from zero (as Ruby's ``Float#round``), and the unit is chosen
    before rounding (so ``999999 -> '1000.0K'``). Negative numbers keep their sign.
    """
    if count < 0:
        return "-" + format_count(-count)
    unit = 0
    value = count
    while value >= 1000 and unit < len(UNITS) - 1:
        value = value / 1000
        unit += 1
    if unit == 0:
        return str(count)
    # Python's round() rounds the binary value (1.235 -> 1.23); Ruby rounds the decimal one.
    return f"{math.floor(value * 100 + 0.5) / 100!r}{UNITS[unit]}"


def format_status(ready: int, delayed: int, in_progress: int, completed: int) -> str:
    """The status line, ``R=<ready> D=<delayed> P=<in progress>/<completed>``, each count as
    :func:`format_count` writes it: ``R=3.42K D=1.23K P=7/2.34K``."""
    return (
        f"R={format_count(ready)} D={format_count(delayed)} "
        f"P={format_count(in_progress)}/{format_count(completed)}"
    )
