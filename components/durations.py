"""Alluxio duration strings ("2min", "10s", "365d", "7200") parsed into seconds.

Alluxio accepts a number with an optional unit (ms, s/sec, m/min, h/hour, d/day); a bare number
is milliseconds. The policy pack compares deployed durations with thresholds through this.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Final

_UNITS_IN_SECONDS: Final = {
    "ms": Decimal("0.001"),
    "millisecond": Decimal("0.001"),
    "milliseconds": Decimal("0.001"),
    "s": Decimal(1),
    "sec": Decimal(1),
    "second": Decimal(1),
    "seconds": Decimal(1),
    "m": Decimal(60),
    "min": Decimal(60),
    "minute": Decimal(60),
    "minutes": Decimal(60),
    "h": Decimal(3600),
    "hr": Decimal(3600),
    "hour": Decimal(3600),
    "hours": Decimal(3600),
    "d": Decimal(86400),
    "day": Decimal(86400),
    "days": Decimal(86400),
}
# ASCII digits and spaces only, bounded lengths, matched with fullmatch (no trailing newline).
_DURATION: Final = re.compile(r" *([0-9]{1,18}(?:\.[0-9]{1,9})?) *([a-zA-Z]{0,12}) *", re.ASCII)
#: Alluxio parses durations into a Java long of milliseconds; longer ones cannot be configured.
MAX_DURATION_SECONDS: Final = Decimal(2**63 - 1) / 1000


class DurationError(ValueError):
    """A value that is not an Alluxio duration."""


def duration_seconds(text: str | int) -> Decimal:
    """Seconds in an Alluxio duration; a bare number is milliseconds, as in Alluxio."""
    if isinstance(text, bool):
        raise DurationError(f"{text!r} is not a duration")
    match = _DURATION.fullmatch(str(text))
    if match is None:
        raise DurationError(f"{text!r} is not an Alluxio duration (examples: '10min', '7200s', '1d')")
    number, unit = Decimal(match.group(1)), match.group(2).lower()
    if unit and unit not in _UNITS_IN_SECONDS:
        raise DurationError(f"{text!r} has an unknown unit {unit!r} (use ms, s, min, h or d)")
    seconds = number * _UNITS_IN_SECONDS[unit or "ms"]
    if seconds > MAX_DURATION_SECONDS:
        raise DurationError(f"{text!r} is longer than Alluxio can hold (a Java long of milliseconds)")
    return seconds


def format_duration(seconds: int) -> str:
    """Seconds as the shortest exact Alluxio duration ("7200" -> "2h", "90" -> "90s")."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0 and seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"
