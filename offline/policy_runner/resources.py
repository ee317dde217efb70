"""Resources to evaluate: read from a ``pulumi stack export`` file or document, or from a plan.

Large exports (100,000 resources, hundreds of MB) are decoded with the garbage collector paused:
decoding allocates millions of containers, none of them in cycles, and each collection the
allocations trigger would rescan all of them. A file is decoded the way the analyzer reads
properties (every number a double, as in a protobuf ``Struct``), and when its text holds no engine
marker at all (see :mod:`.engine_values`) its resources are flagged ``plain``: the evaluation can
then hand their properties to the rules as they are, with no re-encoding.
"""

from __future__ import annotations

import bisect
import codecs
import gc
import json
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from pulumi.runtime.proto import analyzer_pb2

from ack_alluxio_training.offline.policy_runner.engine_values import DOUBLES_JSON, SIGNATURE_KEY, UNKNOWN_SENTINELS

STACK_TYPE: Final = "pulumi:pulumi:Stack"
PROVIDER_PREFIX: Final = "pulumi:providers:"


class ExportError(ValueError):
    """A file that is not a readable ``pulumi stack export``."""


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the block (restored as it was).

    What the block allocated is then moved to the oldest generation without a traversal
    (``gc.freeze`` then ``gc.unfreeze``): otherwise the first allocation after re-enabling starts
    a young collection over every one of those objects, a second or so after a big export. They
    are examined at the next full collection, like any long-lived object.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.freeze()
            gc.unfreeze()
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
        document, resources = read_export(path)
    except OSError as error:
        raise ExportError(f"{path}: cannot read ({error.strerror or error})") from error
    except UnicodeDecodeError as error:
        raise ExportError(f"{path}: not UTF-8 text (byte {error.start})") from error
    except json.JSONDecodeError as error:
        raise ExportError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(document, (dict, list)):
        raise ExportError(f"{path}: not a stack export")
    return resources


def read_export(path: str | Path) -> tuple[Any, list[EngineResource]]:
    """An export file decoded as :func:`decode_export` decodes its text, streamed when laid out as
    ``pulumi stack export`` writes it (see :func:`_stream_export`), else read whole."""
    streamed = _stream_export(Path(path))
    if streamed is not None:
        return streamed
    return decode_export(Path(path).read_text())


def decode_export(text: str) -> tuple[Any, list[EngineResource]]:
    """An export's JSON text decoded, and its resources, each flagged ``plain`` when its own text
    holds no engine marker; outputs equal to inputs share their objects.

    Raises ``json.JSONDecodeError`` for text that is not JSON and :class:`ExportError` for resources
    that are not export-shaped; JSON that is neither an object nor an array gives no resources.
    """
    with collector_paused():
        markers = marker_positions(text)
        split = _split_resources(text) if markers else None
        if split is not None:
            document, items = split
            resources = [
                EngineResource.from_export(item, plain=not _any_between(markers, start, end))
                for item, start, end in items
                if not (isinstance(item, Mapping) and item.get("delete"))
            ]
        else:
            document = DOUBLES_JSON.decode(text)
            if not isinstance(document, (dict, list)):
                return document, []
            resources = resources_from_export(document, plain=not markers)
        return document, _sharing_equal_values(resources)


#: A JSON string that is a UUID: what an unknown-value sentinel looks like in the text (one regex
#: pass is cheaper than a search per sentinel).
_QUOTED_UUID: Final = re.compile(r'"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"')
_SENTINELS: Final = frozenset(f'"{sentinel}"' for sentinel in UNKNOWN_SENTINELS)


def marker_positions(text: str) -> list[int]:
    """Where the text holds an engine marker: a signature key, or a string equal to an unknown
    sentinel (pulumi-policy compares whole values); sorted offsets."""
    found: list[int] = []
    at = text.find(SIGNATURE_KEY)
    while at != -1:
        found.append(at)
        at = text.find(SIGNATURE_KEY, at + 1)
    found += [match.start() for match in _QUOTED_UUID.finditer(text) if match.group() in _SENTINELS]
    return sorted(found)


def _any_between(positions: list[int], start: int, end: int) -> bool:
    index = bisect.bisect_left(positions, start)
    return index < len(positions) and positions[index] < end


_SPACE: Final = re.compile(r"[ \t\n\r]*")
#: Stands in for the resources array while the rest of the document is decoded.
_PLACEHOLDER: Final = "resources-decoded-one-by-one-1f0c6a52"


def _split_resources(text: str) -> tuple[Any, list[tuple[Any, int, int]]] | None:
    """The document and its ``deployment.resources`` decoded one by one, each with its text span.

    The array is the one after the first ``"resources"`` key (the deployment's, in what ``pulumi
    stack export`` writes); that it is ``deployment.resources`` is checked by decoding the rest of
    the document with a placeholder in its place. None when the text is laid out otherwise.
    """
    def space(text: str, at: int) -> int:
        match = _SPACE.match(text, at)  # the pattern matches the empty string too
        return match.end() if match else at

    key = text.find('"resources"')
    if key < 0:
        return None
    at = space(text, key + len('"resources"'))
    if text[at:at + 1] != ":":
        return None
    start = space(text, at + 1)
    if text[start:start + 1] != "[":
        return None
    items: list[tuple[Any, int, int]] = []
    decode = DOUBLES_JSON.raw_decode
    at = space(text, start + 1)
    if text[at:at + 1] != "]":
        while True:
            item, end = decode(text, at)
            items.append((item, at, end))
            at = space(text, end)
            if text[at:at + 1] == ",":
                at = space(text, at + 1)
                continue
            if text[at:at + 1] != "]":
                return None
            break
    document = DOUBLES_JSON.decode(f'{text[:start]}"{_PLACEHOLDER}"{text[at + 1:]}')
    deployment = document.get("deployment") if isinstance(document, dict) else None
    if not isinstance(deployment, dict) or deployment.get("resources") != _PLACEHOLDER:
        return None
    deployment["resources"] = [item for item, _, _ in items]
    return document, items


#: Text read at a time when streaming an export; resources are decoded as soon as they are complete.
_CHUNK: Final = 8 * 2**20
#: Text before the resources array beyond which the file is not laid out as an export is.
_PREFIX_LIMIT: Final = 64 * 2**20


def _holds_marker_between(text: str, start: int, end: int) -> bool:
    if text.find(SIGNATURE_KEY, start, end) != -1:
        return True
    return any(match.group() in _SENTINELS for match in _QUOTED_UUID.finditer(text, start, end))


class _Stream:
    """A file's text read a chunk at a time, with what was consumed dropped."""

    def __init__(self, file: Any) -> None:
        self._file = file
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self.text = ""
        self.ended = False

    def more(self) -> bool:
        """Read the next chunk; False at the end of the file."""
        if self.ended:
            return False
        data = self._file.read(_CHUNK)
        self.ended = not data
        self.text += self._decoder.decode(data, final=self.ended)
        return True

    def skip_space(self, at: int) -> int:
        """The position of the next non-blank character at or after ``at`` (reading as needed)."""
        while True:
            match = _SPACE.match(self.text, at)
            at = match.end() if match else at
            if at < len(self.text) or not self.more():
                return at

    def drop(self, at: int) -> int:
        """Forget the text before ``at``; the same position in the shortened text."""
        if at > _CHUNK:
            self.text = self.text[at:]
            return 0
        return at


def _stream_export(path: Path) -> tuple[Any, list[EngineResource]] | None:
    """Decode an export file without holding its whole text: the resources one by one as they are
    read, each flagged ``plain`` from its own text, then the rest of the document with a placeholder
    for the array (checked to be ``deployment.resources``, as in :func:`_split_resources`).

    None when the file is not laid out that way (the caller then reads it whole).
    """
    decode = DOUBLES_JSON.raw_decode
    with path.open("rb") as file, collector_paused():
        stream = _Stream(file)
        key = -1
        while key < 0:
            key = stream.text.find('"resources"')
            if key < 0 and (len(stream.text) > _PREFIX_LIMIT or not stream.more()):
                return None
        at = stream.skip_space(key + len('"resources"'))
        if stream.text[at:at + 1] != ":":
            return None
        start = stream.skip_space(at + 1)
        if stream.text[start:start + 1] != "[":
            return None
        prefix = stream.text[:start]
        items: list[Any] = []
        resources: list[EngineResource] = []
        at = stream.skip_space(start + 1)
        if stream.text[at:at + 1] != "]":
            while True:
                while True:
                    try:
                        item, end = decode(stream.text, at)
                        break
                    except json.JSONDecodeError:
                        if not stream.more():
                            raise
                items.append(item)
                if not (isinstance(item, Mapping) and item.get("delete")):
                    plain = not _holds_marker_between(stream.text, at, end)
                    resource = EngineResource.from_export(item, plain=plain)
                    _share_equal_values(resource)  # at once: the copies never pile up
                    resources.append(resource)
                at = stream.drop(stream.skip_space(end))
                if stream.text[at:at + 1] == ",":
                    at = stream.skip_space(at + 1)
                    continue
                if stream.text[at:at + 1] != "]":
                    return None
                break
        while stream.more():
            pass
        document = DOUBLES_JSON.decode(f'{prefix}"{_PLACEHOLDER}"{stream.text[at + 1:]}')
        deployment = document.get("deployment") if isinstance(document, dict) else None
        if not isinstance(deployment, dict) or deployment.get("resources") != _PLACEHOLDER:
            return None
        deployment["resources"] = items
        return document, resources


def _sharing_equal_values(resources: list[EngineResource]) -> list[EngineResource]:
    """Outputs that repeat an input (most do: the engine echoes inputs) share the input's object.

    Halves the memory of a big export; nothing writes to decoded properties, and equal values are
    interchangeable for every reader.
    """
    for resource in resources:
        _share_equal_values(resource)
    return resources


def _share_equal_values(resource: EngineResource) -> None:
    inputs, outputs = resource.inputs, resource.outputs
    if not (inputs and outputs and isinstance(outputs, dict)):
        return
    for key, value in outputs.items():
        same = inputs.get(key, _ABSENT)
        if same is not _ABSENT and same is not value and same == value:
            outputs[key] = same


_ABSENT: Final = object()


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
