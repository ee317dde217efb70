"""Kubernetes resource quantities parsed properly (no string slicing).

Used by the tuning derivations (``-XX:ActiveProcessorCount`` from a cpu limit, heap and cache
sizes from memory quantities) and by the policy pack, so both read quantities the same way.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Final

_BINARY_SUFFIXES: Final = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES: Final = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
# ASCII digits only (``\\d`` would also take Arabic-Indic and other Unicode digits) and a bounded
# exponent, matched with fullmatch so a trailing newline is refused too.
_QUANTITY: Final = re.compile(
    r"([+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,2})?)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?",
    re.ASCII,
)
#: Kubernetes keeps quantities in a signed 64-bit integer (of milli-units for cpu): anything larger
#: is refused by the API server, so it is refused here before it reaches Helm values or a manifest.
MAX_QUANTITY: Final = Decimal(2**63 - 1)


class QuantityError(ValueError):
    """A value that is not a Kubernetes resource quantity."""


def parse_quantity(quantity: str | int | float) -> Decimal:
    """Parse a Kubernetes quantity ("4", "3500m", "40Gi", "1.5G", 2) into a Decimal."""
    if isinstance(quantity, bool):
        raise QuantityError(f"{quantity!r} is not a quantity")
    if isinstance(quantity, (int, float)):
        if isinstance(quantity, float) and not math.isfinite(quantity):
            raise QuantityError(f"{quantity!r} is not a finite quantity")
        value = Decimal(str(quantity))
        if abs(value) > MAX_QUANTITY:
            raise QuantityError(f"{quantity!r} is larger than Kubernetes accepts (at most 2^63-1)")
        return value
    if type(quantity) is str:
        return _parse_text(quantity)
    return _parse(str(quantity), quantity)


@lru_cache(maxsize=1024)
def _parse_text(text: str) -> Decimal:
    """:func:`parse_quantity` of text, remembered: the same few quantities recur across resources."""
    return _parse(text, text)


def _parse(text: str, quantity: object) -> Decimal:
    """A quantity's text parsed (``quantity``, as given, is what an error names)."""
    match = _QUANTITY.fullmatch(text)
    if match is None:
        raise QuantityError(f"{quantity!r} is not a Kubernetes quantity (examples: '4', '3500m', '40Gi')")
    number, suffix = match.group(1), match.group(2) or ""
    try:
        value = Decimal(number)
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only numbers
        raise QuantityError(f"{quantity!r} is not a number") from exc
    if "e" in number.lower() and suffix:
        raise QuantityError(f"{quantity!r} mixes an exponent with a suffix")
    scaled = value * (_BINARY_SUFFIXES[suffix] if suffix in _BINARY_SUFFIXES else _DECIMAL_SUFFIXES[suffix])
    if abs(scaled) > MAX_QUANTITY:
        raise QuantityError(f"{quantity!r} is larger than Kubernetes accepts (at most 2^63-1)")
    return scaled


def cpu_cores(quantity: str | int | float) -> Decimal:
    """A cpu quantity in cores: "3500m" -> 3.5."""
    value = parse_quantity(quantity)
    if value <= 0:
        raise QuantityError(f"cpu quantity {quantity!r} must be positive")
    return value


def whole_cpus_rounded_up(quantity: str | int | float) -> int:
    """Cores a JVM should assume for a cpu limit: the limit rounded up ("3500m" -> 4)."""
    return math.ceil(cpu_cores(quantity))


def memory_bytes(quantity: str | int | float) -> int:
    """A memory quantity in bytes: "40Gi" -> 42949672960 (rounded up to a whole byte)."""
    value = parse_quantity(quantity)
    if value < 0:
        raise QuantityError(f"memory quantity {quantity!r} must not be negative")
    return math.ceil(value)


def gibibytes(quantity: str | int | float) -> Decimal:
    """A memory quantity in GiB, for reports."""
    return Decimal(memory_bytes(quantity)) / Decimal(2**30)


def format_gibibytes(value_gib: float | Decimal | int) -> str:
    """Render a GiB count as a Kubernetes quantity ("40Gi"); fractional values go to Mi."""
    mib = Decimal(str(value_gib)) * 1024
    if mib % 1024 == 0:
        return f"{int(mib // 1024)}Gi"
    return f"{math.ceil(mib)}Mi"
