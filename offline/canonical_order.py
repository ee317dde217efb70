"""One order for everything a plan writes, so the same stack gives byte-identical plan files.

Two things vary from run to run although they mean nothing:

- the order resources register: the program creates children inside ``apply`` callbacks and the
  SDK registers them from asyncio tasks, so which bucket child reaches the engine first depends on
  scheduling;
- the key order of property maps: inputs travel as protobuf ``Struct`` maps, whose iteration order
  is the map's hash order, not the order the program wrote them in.

Resources are therefore put in a dependency order with ties broken by name (a resource still
comes after its parent, its provider and everything it depends on, as in a real export, so the
file can be imported), and every property map is rebuilt with sorted keys. Lists keep their order:
in a container's args or a tier list the order is meaningful.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar


class Registered(Protocol):
    """What the ordering needs to know of a recorded resource."""

    @property
    def urn(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def parent(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def dependencies(self) -> list[str]: ...


R = TypeVar("R", bound=Registered)


def sorted_keys(value: Any) -> Any:
    """``value`` with every mapping rebuilt in sorted key order (lists keep their order)."""
    if isinstance(value, dict):
        return {key: sorted_keys(value[key]) for key in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_keys(item) for item in value]
    return value


def _provider_urn(reference: str) -> str:
    """A provider reference is ``<urn>::<id>``; the URN itself has at least four ``::``."""
    return reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference


def _prerequisites(resource: Registered) -> set[str]:
    return {resource.parent, _provider_urn(resource.provider), *resource.dependencies} - {"", resource.urn}


def dependency_order(resources: Iterable[R], key: Callable[[R], Sequence[str]] | None = None) -> list[R]:
    """Resources after everything they need (parent, provider, dependencies), ties broken by ``key``.

    The default key is (name, type, urn): siblings read in name order in the tree. A prerequisite
    that is not among ``resources`` (the stack itself) is ignored; a cycle, which the engine would
    have refused, falls back to the key order for the resources caught in it.
    """
    rank = key or (lambda r: (r.name, r.type, r.urn))
    items = {r.urn: r for r in resources}
    waiting = {urn: _prerequisites(r) & items.keys() for urn, r in items.items()}
    dependents: dict[str, list[str]] = {}
    for urn, needs in waiting.items():
        for need in needs:
            dependents.setdefault(need, []).append(urn)
    ready = [(tuple(rank(items[urn])), urn) for urn, needs in waiting.items() if not needs]
    heapq.heapify(ready)
    ordered: list[R] = []
    while ready:
        _, urn = heapq.heappop(ready)
        ordered.append(items[urn])
        for dependent in dependents.get(urn, []):
            waiting[dependent].discard(urn)
            if not waiting[dependent]:
                heapq.heappush(ready, (tuple(rank(items[dependent])), dependent))
    placed = {r.urn for r in ordered}
    ordered += sorted((r for urn, r in items.items() if urn not in placed), key=lambda r: tuple(rank(r)))
    return ordered
