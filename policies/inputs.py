"""Reading engine inputs the way the policy SDK hands them over.

The analyzer wraps resource properties in proxies (``Mapping``/``Sequence``, not ``dict``/``list``)
that raise ``UnknownValueError`` the moment a rule touches a value that is unknown during preview;
the servicer turns that into an advisory diagnostic. These readers therefore test against the
abstract collection types, touch only the keys they are asked for, and never swallow that error.
Numbers arrive as floats (a protobuf ``Struct`` has only doubles), so ``4`` may be ``4.0``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final, Generic, TypeVar, cast, overload

EMPTY_MAPPING: Final[Mapping[str, Any]] = {}


def is_mapping(value: Any) -> bool:
    """``isinstance(value, Mapping)``, answered from the type for dicts and real subclasses.

    The analyzer's proxies subclass ``Mapping``; the ABC check they would otherwise go through
    runs in Python and is the most frequent call of the rules.
    """
    kind = type(value)
    return kind is dict or Mapping in kind.__mro__ or (value is not None and isinstance(value, Mapping))


def is_sequence(value: Any) -> bool:
    """``isinstance(value, Sequence)`` but not text (see :func:`is_mapping`)."""
    kind = type(value)
    if kind is list or (Sequence in kind.__mro__ and kind is not str):
        return not isinstance(value, (str, bytes))
    return value is not None and isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def as_mapping(value: Any) -> Mapping[str, Any]:
    """The value when it is a mapping (a proxied dict included), else an empty mapping."""
    return value if is_mapping(value) else EMPTY_MAPPING


def as_sequence(value: Any) -> Sequence[Any]:
    """The value when it is a list (a proxied list included; strings are not lists), else ``()``."""
    return value if is_sequence(value) else ()


def dig(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...``, or None as soon as a level is missing or not a mapping."""
    for key in keys:
        if not is_mapping(value):
            return None
        value = value.get(key)
    return value


def as_text(value: Any) -> str | None:
    """A scalar as Alluxio and Kubernetes would read it: ``True`` -> "true", ``4.0`` -> "4"."""
    if type(value) is str:
        return value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, str):
        return value
    return None


def as_flag(value: Any) -> bool | None:
    """A boolean given as a bool or as the text "true"/"false" (Helm values carry both)."""
    text = as_text(value)
    if text is None:
        return None
    lowered = text.strip().lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    return None


def as_int(value: Any) -> int | None:
    """A whole number given as a number or as text ("64", 64, 64.0)."""
    text = as_text(value)
    if text is None:
        return None
    try:
        number = Decimal(text.strip())
    except ArithmeticError:
        return None
    if not number.is_finite() or number != number.to_integral_value():
        return None
    return int(number)


def string_map(value: Any) -> dict[str, str]:
    """A mapping of scalars as text (labels, tags, env, properties); non-scalars are dropped."""
    result: dict[str, str] = {}
    for key, item in as_mapping(value).items():
        text = as_text(item)
        if text is not None:
            result[str(key)] = text
    return result


def key_value_list(value: Any) -> dict[str, str]:
    """``[{key: k, value: v}, ...]`` (ACK node labels) or a plain mapping, as a dict."""
    if is_mapping(value):
        return string_map(value)
    result: dict[str, str] = {}
    for item in as_sequence(value):
        entry = as_mapping(item)
        key = as_text(entry.get("key"))
        text = as_text(entry.get("value"))
        if key is not None and text is not None:
            result[key] = text
    return result


def show(value: Any) -> str:
    """A value quoted for a violation message."""
    text = as_text(value)
    return repr(text) if text is not None else "unset" if value is None else repr(value)


_V = TypeVar("_V")
_O = TypeVar("_O")


class cached(Generic[_O, _V]):  # noqa: N801 - used like functools.cached_property
    """``functools.cached_property`` without its lock (Python 3.12 dropped it too).

    Computed on first read and stored in the instance's ``__dict__``, which then shadows this
    descriptor; an error (an unknown value) is not stored, so the next read raises it again.
    """

    def __init__(self, function: Callable[[_O], _V]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, instance: None, owner: type[Any] | None = None) -> cached[_O, _V]: ...

    @overload
    def __get__(self, instance: _O, owner: type[Any] | None = None) -> _V: ...

    def __get__(self, instance: _O | None, owner: type[Any] | None = None) -> _V | cached[_O, _V]:
        if instance is None:
            return self
        value = self.function(instance)
        instance.__dict__[self.name] = value
        return value


def per_resource(function: Callable[[str, Any, str], _V]) -> Callable[[str, Any, str], _V]:
    """Remember ``function(resource_type, props, name)`` per props object.

    Several rules read the same resource through the same view (an Alluxio deployment, a
    workload's pod templates). When the analyzer hands them the same props object, the view is
    built once. It is kept on the object itself when the object takes attributes (the analyzer's
    proxies do), so it lives exactly as long as the properties, however many resources a stack
    policy walks; for other objects (plain dicts, in direct calls) the last few are kept, keyed on
    the object's identity with the object kept alive, so an identity is never confused with a
    later one. Errors (an unknown value) are not cached.
    """
    entries: OrderedDict[tuple[str, int, str], tuple[Any, _V]] = OrderedDict()

    def cached(resource_type: str, props: Any, name: str = "") -> _V:
        store = getattr(props, "__dict__", None)
        if store is not None:
            views = store.get(_VIEWS)
            if views is None:
                views = store[_VIEWS] = {}
            view_key = (function, resource_type, name)
            hit = views.get(view_key, _NO_VIEW)
            if hit is not _NO_VIEW:
                return cast(_V, hit)
            value = function(resource_type, props, name)
            views[view_key] = value
            return value
        key = (resource_type, id(props), name)
        hit = entries.get(key)
        if hit is not None and hit[0] is props:
            return hit[1]
        value = function(resource_type, props, name)
        entries[key] = (props, value)
        if len(entries) > _PER_RESOURCE_ENTRIES:
            entries.popitem(last=False)
        return value

    cached.__doc__ = function.__doc__
    return cached


def per_resource_reading(*keys: str) -> Callable[[Callable[[str, Any, str], _V]], Callable[[str, Any, str], _V]]:
    """:func:`per_resource` for a view built only from these top-level keys of the properties.

    Declaring them lets :func:`share_views` hand the view to another properties object holding
    equal values under those keys (a resource's state next to its inputs), instead of building it
    again. The declaration is the view function's contract: it must read no other key.
    """

    def declare(function: Callable[[str, Any, str], _V]) -> Callable[[str, Any, str], _V]:
        _READS[function] = keys
        return per_resource(function)

    return declare


def share_views(source: Any, target: Any) -> None:
    """Give ``target`` the views built from ``source`` whose declared keys hold equal values in both.

    Only between plain dicts (decoded data, where comparing reads nothing unknown), and only for
    views declared with :func:`per_resource_reading`: such a view is a function of those keys (and
    of the type and name, part of its key), so the shared one is the one ``target`` would build.
    """
    if not (isinstance(source, dict) and isinstance(target, dict)):
        return
    views = getattr(source, "__dict__", {}).get(_VIEWS)
    store = getattr(target, "__dict__", None)
    if not views or store is None:
        return
    shared = store.setdefault(_VIEWS, {})
    for view_key, view in views.items():
        keys = _READS.get(view_key[0])
        if keys is not None and view_key not in shared and all(source.get(k) == target.get(k) for k in keys):
            shared[view_key] = view


#: The top-level keys each shareable view function reads (see :func:`per_resource_reading`).
_READS: Final[dict[Callable[..., Any], tuple[str, ...]]] = {}
#: Attribute of a props object holding its views (see :func:`per_resource`).
_VIEWS: Final = "_policies_views"
_NO_VIEW: Final = object()
_PER_RESOURCE_ENTRIES: Final = 16
