"""Resources to evaluate: read from a ``pulumi stack export`` file or document, or from a plan.

Large exports (100,000 resources, hundreds of MB) are decoded with the garbage collector paused:
decoding allocates millions of containers, none of them in cycles, and each collection the
allocations trigger would rescan all of them. A file is decoded the way the analyzer reads
properties (every number a double, as in a protobuf ``Struct``), and when its text holds no engine
marker at all (see :mod:`.engine_values`) its resources are flagged ``plain``: the evaluation can
then hand their properties to the rules as they are, with no re-encoding.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pulumi.runtime.proto import analyzer_pb2

from ack_alluxio_training.offline.policy_runner.engine_values import DOUBLES_JSON, holds_marker

STACK_TYPE: Final = "pulumi:pulumi:Stack"
PROVIDER_PREFIX: Final = "pulumi:providers:"


class ExportError(ValueError):
    """A file that is not a readable ``pulumi stack export``."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (restored as it was)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _name_from_urn(urn: str) -> str:
    parts = urn.split("::")
    return "::".join(parts[3:]) if len(parts) >= 4 else urn


def provider_urn(reference: str) -> str:
    """A provider reference is ``<provider urn>::<provider id>``."""
    return reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference


@dataclass
class EngineResource:
    """A resource in ``pulumi stack export`` shape, normalised.

    ``plain``: the inputs and outputs are decoded JSON with every number a double and hold no
    engine marker, so the analyzer would hand them to rules unchanged.
    """

    type: str
    urn: str
    name: str
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    parent: str
    provider: str
    protect: bool
    dependencies: list[str] = field(default_factory=list)
    property_dependencies: Mapping[str, list[str]] = field(default_factory=dict)
    delete_before_replace: bool | None = None
    ignore_changes: list[str] = field(default_factory=list)
    additional_secret_outputs: list[str] = field(default_factory=list)
    aliases: list[str] = field(default_factory=list)
    plain: bool = False

    @classmethod
    def from_export(cls, item: Mapping[str, Any], *, plain: bool = False) -> EngineResource:
        """One entry of ``deployment.resources`` (or a hand-written dict of the same shape)."""
        if not (isinstance(item, Mapping) and isinstance(item.get("type"), str) and isinstance(item.get("urn"), str)):
            raise ExportError(f"a resource needs a string 'type' and 'urn', got {str(item)[:120]!r}")
        inputs = item.get("inputs") or {}
        outputs = item.get("outputs") or {}
        if not isinstance(inputs, Mapping) or not isinstance(outputs, Mapping):
            raise ExportError(f"{item['urn']}: inputs and outputs must be objects")
        return cls(
            type=item["type"],
            urn=item["urn"],
            name=str(item.get("name") or _name_from_urn(item["urn"])),
            inputs=inputs,
            outputs=outputs,
            parent=str(item.get("parent") or ""),
            provider=str(item.get("provider") or ""),
            protect=bool(item.get("protect", False)),
            dependencies=[str(d) for d in item.get("dependencies") or ()],
            property_dependencies={
                str(k): [str(u) for u in v] for k, v in (item.get("propertyDependencies") or {}).items()
            },
            delete_before_replace=item.get("deleteBeforeReplace"),
            ignore_changes=[str(i) for i in item.get("ignoreChanges") or ()],
            additional_secret_outputs=[str(i) for i in item.get("additionalSecretOutputs") or ()],
            aliases=[str(a) if not isinstance(a, Mapping) else json.dumps(a) for a in item.get("aliases") or ()],
            plain=plain,
        )

    @classmethod
    def from_recorded(cls, recorded: Any) -> EngineResource:
        """A resource as ``ack_alluxio_training.offline.mock_engine`` records it (``RecordedResource``)."""
        return cls(
            type=recorded.type,
            urn=recorded.urn,
            name=recorded.name,
            inputs=recorded.raw_inputs,
            outputs=recorded.outputs,
            parent=recorded.parent or "",
            provider=recorded.provider or "",
            protect=bool(recorded.protect),
            dependencies=list(recorded.dependencies),
            delete_before_replace=bool(getattr(recorded, "delete_before_replace", False)),
            ignore_changes=list(getattr(recorded, "ignore_changes", [])),
            additional_secret_outputs=list(getattr(recorded, "additional_secret_outputs", [])),
        )

    @property
    def analyzed(self) -> bool:
        """Whether the engine analyzes this resource (the stack itself and providers it does not)."""
        return not (self.type == STACK_TYPE or self.type.startswith(PROVIDER_PREFIX))

    @property
    def stack_properties(self) -> Mapping[str, Any]:
        """What a stack policy reads: the stack's state (outputs), else the inputs."""
        return self.outputs or self.inputs

    def options(self) -> analyzer_pb2.AnalyzerResourceOptions:
        """The resource options as the CLI sends them."""
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=self.protect,
            ignoreChanges=self.ignore_changes,
            deleteBeforeReplace=bool(self.delete_before_replace),
            deleteBeforeReplaceDefined=self.delete_before_replace is not None,
            additionalSecretOutputs=self.additional_secret_outputs,
            aliases=self.aliases,
            parent=self.parent,
        )


def resources_from_export(document: Any, *, plain: bool = False) -> list[EngineResource]:
    """Resources of a ``pulumi stack export`` document (``{"deployment": {"resources": [...]}}``).

    A bare ``{"resources": [...]}`` or a list is accepted too. Resources pending deletion are left
    out, as the engine would not analyze them. ``plain``: see :class:`EngineResource`.
    """
    if isinstance(document, Mapping):
        deployment = document.get("deployment", document)
        if isinstance(deployment, Mapping) and "latest" in deployment:
            deployment = deployment["latest"]
        items = deployment.get("resources") if isinstance(deployment, Mapping) else None
    else:
        items = document
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ExportError("deployment.resources must be a list")
    return [
        EngineResource.from_export(item, plain=plain)
        for item in items
        if not (isinstance(item, Mapping) and item.get("delete"))
    ]


def load_export(path: str | Path) -> list[EngineResource]:
    """Read a ``pulumi stack export`` file (numbers as doubles, the collector paused meanwhile)."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ExportError(f"{path}: cannot read ({error.strerror or error})") from error
    with collector_paused():
        try:
            document = DOUBLES_JSON.decode(text)
        except json.JSONDecodeError as error:
            raise ExportError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
        if not isinstance(document, (dict, list)):
            raise ExportError(f"{path}: not a stack export")
        plain = not holds_marker(text)
        del text
        return resources_from_export(document, plain=plain)


def resources_from_plan(plan: Any) -> list[EngineResource]:
    """Resources of an ``ack_alluxio_training.offline.mock_engine.PlanResult`` (or any iterable of them)."""
    recorded = getattr(plan, "resources", plan)
    return [EngineResource.from_recorded(r) for r in recorded]


def normalised(item: Mapping[str, Any] | EngineResource | Any) -> EngineResource:
    """Any accepted resource shape as an :class:`EngineResource`."""
    if isinstance(item, EngineResource):
        return item
    if isinstance(item, Mapping):
        return EngineResource.from_export(item)
    if hasattr(item, "raw_inputs"):
        return EngineResource.from_recorded(item)
    raise ExportError(f"cannot evaluate {type(item).__name__}: give export-shaped dicts or recorded resources")


def export_shape(resource: EngineResource) -> dict[str, Any]:
    """A resource as one ``deployment.resources`` entry, for writing ``resources.json``."""
    shaped: dict[str, Any] = {"urn": resource.urn, "type": resource.type, "inputs": dict(resource.inputs),
                              "outputs": dict(resource.outputs)}
    if resource.parent:
        shaped["parent"] = resource.parent
    if resource.provider:
        shaped["provider"] = resource.provider
    if resource.protect:
        shaped["protect"] = True
    if resource.dependencies:
        shaped["dependencies"] = list(resource.dependencies)
    return shaped
