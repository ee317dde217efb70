"""Evaluate the policy pack offline with pulumi-policy's own analyzer, the way the Pulumi CLI does.

There is no second policy engine here. The pack's policies are served by pulumi-policy's
``_PolicyAnalyzerServicer`` (the object ``PolicyPack`` serves over gRPC), called in-process with
the requests the CLI sends: ``GetAnalyzerInfo``, ``Configure``, then per resource ``Remediate``
(when a policy is at the remediate level) and ``Analyze``, and ``AnalyzeStack``. Around it this
module reproduces what the CLI itself does:

- policy config: schema defaults, then the pack's initial config, then the file (its ``all`` entry
  first, then per-policy entries); each policy's properties validated against its JSON schema
  (draft 7), errors raised as :class:`PolicyConfigError`;
- levels: the config's level, else the policy's, else the pack's default; disabled policies are
  skipped; a remediate-level policy that still finds a violation after remediation reports it as
  mandatory (the servicer does this itself);
- values: unknown values (the engine's sentinel ``04da6b54-...``) are passed through, so a rule
  touching one yields the analyzer's advisory "can't be known during preview" diagnostic; secrets
  as ``pulumi stack export`` writes them (ciphertext only) are opaque and sent as unknown values.

Speed (10,000 resources in a few seconds, whatever the mix; cost per resource flat):

- routing: a resource goes to a servicer holding only the policies whose ``applies_to`` accepts
  its type, and each stack policy gets its own ``AnalyzeStack`` call with only the types it reads
  (each policy also checks types itself, so the verdict equals sending everything, which a test
  asserts);
- properties: the servicer turns a request's properties Struct into the rules' view once per
  *policy*, walking the message in Python (``MessageToDict``, ``deserialize_properties``, then a
  proxy over the whole tree). Here a request's Struct is left empty and the properties travel
  beside it as the JSON they would have been encoded from (:class:`_Source`); inside a servicer
  call the servicer's three conversions are replaced (:class:`_SharedConversions`) so that each
  resource is decoded once, from JSON in C, only when a rule first reads it, into a proxy that
  behaves like pulumi-policy's unknown-checking one but wraps values as they are read
  (:class:`_LazyDictProxy`). Rule views built from the same properties object are shared by the
  policies of a call (``ack_alluxio_training.policies.inputs.per_resource``). The verdict is the one of real Structs
  through the unpatched servicer, which a test asserts;
- the garbage collector is paused during an evaluation (nothing it allocates is cyclic);
- two processes, opt-in with ``$POLICY_RUNNER_WORKERS=2``: with at least
  :data:`_PARALLEL_MIN_RESOURCES` resources to analyze and two usable CPUs, the work is shared with
  a forked copy of this process (see :func:`_in_two_processes`); results are merged back in
  resource order, so the report is the one of a sequential run. By default everything stays in
  this process.

Thread safety: an evaluation patches ``pulumi_policy.policy`` module-wide while it runs, so it is
single-threaded: do not run two evaluations concurrently in threads of one process, nor serve a
``PolicyPack`` from the same process meanwhile. The second process is forked from the main thread
only; other threads of the process must not hold a process-wide lock (say, be writing to stdout)
at that moment, as with ``multiprocessing``'s fork start method (see :func:`_can_fork`).
"""

from __future__ import annotations

import gc
import json
import operator
import os
import pickle
import signal
import sys
import threading
import traceback
from collections.abc import Callable, ItemsView, Iterable, Iterator, Mapping, Sequence, ValuesView
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Final

import jsonschema
from google.protobuf import json_format, struct_pb2
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import Policy, Severity
from pulumi_policy import policy as policy_module
from pulumi_policy import proxy as proxy_module
from pulumi_policy.policy import _PolicyAnalyzerServicer
from pulumi_policy.proxy import UnknownValueError, _DictProxy, _ListProxy

from ack_alluxio_training.policies.guardrails import Guardrail, ResourceGuardrail, StackGuardrail
from ack_alluxio_training.policies.pack import (
    DEFAULT_ENFORCEMENT_LEVEL,
    PACK_DIR,
    PACK_NAME,
    all_policies,
    pack_version,
)

UNKNOWN_VALUE: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
SIGNATURE_KEY: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIGNATURE: Final = "1b47061264138c4ac30d75fd1eb44270"
ASSET_SIGNATURE: Final = "c44067f5952c0a294b673a41bacd8c17"
ARCHIVE_SIGNATURE: Final = "0def7320c3a5731c473e5ecbe6d01bc7"
RESOURCE_REFERENCE_SIGNATURE: Final = "5cf8f73096256a8f31e491e813e4eb8e"
OUTPUT_VALUE_SIGNATURE: Final = "d0e6a833031e9bbcd3f4e8bde6ca49a4"
LEVELS: Final = ("advisory", "mandatory", "remediate", "disabled")
STACK_TYPE: Final = "pulumi:pulumi:Stack"
PROVIDER_PREFIX: Final = "pulumi:providers:"
_LEVEL_TO_PROTO: Final = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "remediate": proto.REMEDIATE,
                          "disabled": proto.DISABLED}
_PROTO_TO_LEVEL: Final = {value: key for key, value in _LEVEL_TO_PROTO.items()}
_PROTO_TO_SEVERITY: Final = {
    proto.POLICY_SEVERITY_LOW: "low",
    proto.POLICY_SEVERITY_MEDIUM: "medium",
    proto.POLICY_SEVERITY_HIGH: "high",
    proto.POLICY_SEVERITY_CRITICAL: "critical",
}


class PolicyConfigError(ValueError):
    """A policy config the CLI would refuse; ``problems`` lists each reason."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid policy config:\n" + "\n".join(f"  - {p}" for p in problems))


class ExportError(ValueError):
    """A file that is not a readable ``pulumi stack export``."""


# --- the pack as the CLI sees it ------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyInfo:
    """One policy as ``GetAnalyzerInfo`` describes it, plus the tuning rows it guards."""

    name: str
    description: str
    enforcement_level: str
    severity: str
    remediation_steps: str
    kind: str
    config_schema: Mapping[str, Any]
    required: tuple[str, ...]
    rows: tuple[int, ...]


def _servicer(policies: Sequence[Guardrail]) -> _PolicyAnalyzerServicer:
    """pulumi-policy's analyzer servicer (what ``PolicyPack`` serves) holding these policies."""
    held: list[Policy] = list(policies)
    return _PolicyAnalyzerServicer(PACK_NAME, pack_version(), held, DEFAULT_ENFORCEMENT_LEVEL)


def _severity_name(severity: Severity | None) -> str:
    return severity.value if severity is not None else "unspecified"


def pack_info() -> list[PolicyInfo]:
    """Every policy of the pack, read through the analyzer's own ``GetAnalyzerInfo``."""
    policies = {p.name: p for p in all_policies()}
    info = _servicer(list(policies.values())).GetAnalyzerInfo(None, None)  # type: ignore[no-untyped-call]
    described = []
    for item in info.policies:
        schema = json_format.MessageToDict(item.configSchema.properties) if item.HasField("configSchema") else {}
        described.append(
            PolicyInfo(
                name=item.name,
                description=item.description,
                enforcement_level=_PROTO_TO_LEVEL[item.enforcementLevel],
                severity=_PROTO_TO_SEVERITY.get(item.severity, "unspecified"),
                remediation_steps=item.remediation_steps,
                kind="stack" if item.policy_type == proto.PolicyType.POLICY_TYPE_STACK else "resource",
                config_schema=schema,
                required=tuple(item.configSchema.required),
                rows=policies[item.name].rows,
            )
        )
    return described


def _initial_config() -> dict[str, dict[str, Any]]:
    info = _servicer(all_policies()).GetAnalyzerInfo(None, None)  # type: ignore[no-untyped-call]
    initial: dict[str, dict[str, Any]] = {}
    for name, config in info.initialConfig.items():
        entry: dict[str, Any] = dict(json_format.MessageToDict(config.properties))
        entry["enforcementLevel"] = _PROTO_TO_LEVEL[config.enforcementLevel]
        initial[name] = entry
    return initial


# --- policy config: the CLI's parsing, merging and validation -----------------------------------


@dataclass(frozen=True)
class ResolvedPolicy:
    """A policy's effective level and config properties after merging defaults and the file."""

    name: str
    level: str
    properties: Mapping[str, Any]


def parse_policy_config(document: Any) -> dict[str, dict[str, Any]]:
    """A policy config document (``{"all": "mandatory", "<policy>": {"enforcementLevel": ..., ...}}``).

    Each entry becomes ``{"enforcementLevel": level | None, **properties}``; invalid levels and values
    that are neither a level nor an object are refused, as the CLI refuses them.
    """
    if document is None:
        return {}
    if not isinstance(document, Mapping):
        raise PolicyConfigError(["the policy config must be a JSON object of policy names"])
    problems: list[str] = []
    parsed: dict[str, dict[str, Any]] = {}
    for name, value in document.items():
        if isinstance(value, str):
            if value not in LEVELS:
                problems.append(f"{name}: {value!r} is not an enforcement level ({', '.join(LEVELS)})")
                continue
            parsed[name] = {"enforcementLevel": value}
        elif isinstance(value, Mapping):
            entry = dict(value)
            level = entry.pop("enforcementLevel", None)
            if level is not None and level not in LEVELS:
                problems.append(f"{name}.enforcementLevel: {level!r} is not an enforcement level ({', '.join(LEVELS)})")
                continue
            if level is None and not entry:
                continue
            parsed[name] = {"enforcementLevel": level, **entry}
        else:
            problems.append(f"{name}: {value!r} must be an enforcement level or an object")
    if problems:
        raise PolicyConfigError(problems)
    return parsed


def _apply(result: dict[str, dict[str, Any]], levels: dict[str, str], config: Mapping[str, Mapping[str, Any]]) -> None:
    everyone = config.get("all", {}).get("enforcementLevel")
    if everyone:
        for name in levels:
            levels[name] = everyone
    for name, entry in config.items():
        if name == "all" or name not in levels:
            continue
        if entry.get("enforcementLevel"):
            levels[name] = entry["enforcementLevel"]
        result[name].update({k: v for k, v in entry.items() if k != "enforcementLevel"})


def resolve_policy_config(
    config: Mapping[str, Any] | None, infos: Sequence[PolicyInfo] | None = None
) -> tuple[dict[str, ResolvedPolicy], list[str]]:
    """Effective level and properties per policy, and warnings (e.g. config for unknown policies).

    Order as in the CLI: schema defaults, the pack's initial config, then ``config`` ("all" first).
    """
    infos = list(infos) if infos is not None else pack_info()
    parsed = parse_policy_config(config)
    levels = {info.name: info.enforcement_level for info in infos}
    properties: dict[str, dict[str, Any]] = {
        info.name: {k: v["default"] for k, v in info.config_schema.items() if isinstance(v, Mapping) and "default" in v}
        for info in infos
    }
    _apply(properties, levels, _initial_config())
    _apply(properties, levels, parsed)
    warnings = [f"policy config names {name!r}, which is not a policy of {PACK_NAME}"
                for name in parsed if name != "all" and name not in levels]
    problems: list[str] = []
    for info in infos:
        if not info.config_schema and not info.required:
            continue
        schema = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object",
                  "properties": dict(info.config_schema), "required": list(info.required)}
        validator = jsonschema.Draft7Validator(schema)
        for error in sorted(validator.iter_errors(properties[info.name]), key=lambda e: list(e.path)):
            where = ".".join(str(p) for p in error.path)
            problems.append(f"{info.name}{'.' + where if where else ''}: {error.message}")
    if problems:
        raise PolicyConfigError(problems)
    resolved = {info.name: ResolvedPolicy(info.name, levels[info.name], properties[info.name]) for info in infos}
    return resolved, warnings


def load_policy_config(path: str | Path) -> dict[str, Any]:
    """Read a policy config JSON file (as given to ``--policy-pack-config``)."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise PolicyConfigError([f"{path}: cannot read ({error.strerror or error})"]) from error
    if not text.strip():
        return {}
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise PolicyConfigError([f"{path}: not valid JSON ({error.msg} at line {error.lineno})"]) from error
    if not isinstance(document, dict):
        raise PolicyConfigError([f"{path}: must hold a JSON object"])
    return document


# --- resources: export shape in, protobuf out ------------------------------------------------------


def _opaque(value: Any) -> Any:
    """Engine values the analyzer cannot read offline, made readable or unknown.

    Ciphertext secrets cannot be decrypted without the stack's secrets provider, so they become
    unknown (the analyzer then reports rules that need them as advisory). Resource references
    become their URN; output values their value, or unknown.
    """
    if isinstance(value, Mapping):
        signature = value.get(SIGNATURE_KEY)
        if signature == SECRET_SIGNATURE:
            if "value" in value:
                return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": _opaque(value["value"])}
            if "plaintext" in value and isinstance(value["plaintext"], str):
                try:
                    return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": _opaque(json.loads(value["plaintext"]))}
                except json.JSONDecodeError:
                    return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": value["plaintext"]}
            return {SIGNATURE_KEY: SECRET_SIGNATURE, "value": UNKNOWN_VALUE}
        if signature in (ASSET_SIGNATURE, ARCHIVE_SIGNATURE):
            readable = any(k in value for k in ("path", "text", "uri", "assets"))
            return {k: _opaque(v) for k, v in value.items()} if readable else UNKNOWN_VALUE
        if signature == RESOURCE_REFERENCE_SIGNATURE:
            return str(value.get("urn", UNKNOWN_VALUE))
        if signature == OUTPUT_VALUE_SIGNATURE:
            return _opaque(value["value"]) if "value" in value else UNKNOWN_VALUE
        if signature is not None:
            return UNKNOWN_VALUE
        return {str(k): _opaque(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_opaque(v) for v in value]
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    return str(value)


#: ``json.dumps(..., allow_nan=False)``; without the circular-reference check, a cycle fails with
#: RecursionError at once (with the check it failed later, in :func:`_opaque`, the same way).
_STRICT_JSON: Final = json.JSONEncoder(allow_nan=False, check_circular=False)


def _json_text(properties: Mapping[str, Any] | None) -> str:
    """Properties as JSON, with engine signatures made readable first (see :func:`_opaque`)."""
    if not properties:
        return "{}"
    try:
        text = _STRICT_JSON.encode(properties)
    except (TypeError, ValueError):
        return json.dumps(_opaque(properties))
    return json.dumps(_opaque(properties)) if SIGNATURE_KEY in text else text


def _struct(properties: Mapping[str, Any] | None) -> struct_pb2.Struct:
    """The Struct the CLI would send, built the protobuf library's way (``Struct.update``)."""
    return _struct_from_text(_json_text(properties))


def _struct_from_text(text: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(text))
    return struct


_DOUBLES_JSON: Final = json.JSONDecoder(parse_int=float)


def _decoded(text: str) -> Any:
    """What ``MessageToDict`` returns for the Struct built from ``text``: numbers are doubles."""
    return _DOUBLES_JSON.decode(text)


def _name_from_urn(urn: str) -> str:
    parts = urn.split("::")
    return "::".join(parts[3:]) if len(parts) >= 4 else urn


def _provider_urn(reference: str) -> str:
    """A provider reference is ``<provider urn>::<provider id>``."""
    return reference.rsplit("::", 1)[0] if reference.count("::") >= 4 else reference


@dataclass
class EngineResource:
    """A resource in ``pulumi stack export`` shape, normalised."""

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

    @classmethod
    def from_export(cls, item: Mapping[str, Any]) -> EngineResource:
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
            dependencies=[str(d) for d in item.get("dependencies") or []],
            property_dependencies={
                str(k): [str(u) for u in v] for k, v in (item.get("propertyDependencies") or {}).items()
            },
            delete_before_replace=item.get("deleteBeforeReplace"),
            ignore_changes=[str(i) for i in item.get("ignoreChanges") or []],
            additional_secret_outputs=[str(i) for i in item.get("additionalSecretOutputs") or []],
            aliases=[str(a) if not isinstance(a, Mapping) else json.dumps(a) for a in item.get("aliases") or []],
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

    def options(self) -> analyzer_pb2.AnalyzerResourceOptions:
        return analyzer_pb2.AnalyzerResourceOptions(
            protect=self.protect,
            ignoreChanges=self.ignore_changes,
            deleteBeforeReplace=bool(self.delete_before_replace),
            deleteBeforeReplaceDefined=self.delete_before_replace is not None,
            additionalSecretOutputs=self.additional_secret_outputs,
            aliases=self.aliases,
            parent=self.parent,
        )


def resources_from_export(document: Any) -> list[EngineResource]:
    """Resources of a ``pulumi stack export`` document (``{"deployment": {"resources": [...]}}``).

    A bare ``{"resources": [...]}`` or a list is accepted too. Resources pending deletion are left
    out, as the engine would not analyze them.
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
        EngineResource.from_export(item) for item in items if not (isinstance(item, Mapping) and item.get("delete"))
    ]


def load_export(path: str | Path) -> list[EngineResource]:
    """Read a ``pulumi stack export`` file."""
    try:
        text = Path(path).read_text()
    except OSError as error:
        raise ExportError(f"{path}: cannot read ({error.strerror or error})") from error
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ExportError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from error
    if not isinstance(document, (dict, list)):
        raise ExportError(f"{path}: not a stack export")
    return resources_from_export(document)


def resources_from_plan(plan: Any) -> list[EngineResource]:
    """Resources of an ``ack_alluxio_training.offline.mock_engine.PlanResult`` (or any iterable of RecordedResource)."""
    recorded = getattr(plan, "resources", plan)
    return [EngineResource.from_recorded(r) for r in recorded]


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


# --- the report --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Violation:
    """One diagnostic of the analyzer: which rule, on which resource, at which level, and why."""

    policy: str
    urn: str
    resource_type: str
    level: str
    severity: str
    message: str
    description: str

    @property
    def unknown(self) -> bool:
        """Whether the rule could not run because a value it needs is unknown (or a secret)."""
        return "can't be known during preview" in self.message


@dataclass(frozen=True)
class Remediation:
    """A rewrite a remediate-level policy made to a resource's inputs."""

    policy: str
    urn: str
    changes: tuple[str, ...]
    diagnostic: str = ""


@dataclass
class PolicyReport:
    """The outcome of one evaluation."""

    violations: list[Violation]
    remediations: list[Remediation]
    levels: dict[str, str]
    warnings: list[str]
    resources_checked: int
    remediation_steps: dict[str, str] = field(default_factory=dict)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.level == "mandatory"]

    @property
    def mandatory_violations(self) -> list[Violation]:
        """The violations that fail the gate (same as :attr:`mandatory`)."""
        return self.mandatory

    @property
    def advisory(self) -> list[Violation]:
        return [v for v in self.violations if v.level != "mandatory"]

    @property
    def passed(self) -> bool:
        """No mandatory violation: the gate ``pulumi preview --policy-pack`` would pass."""
        return not self.mandatory

    def violated(self, level: str | None = None) -> set[str]:
        """Names of the policies with violations (at one level, or any)."""
        return {v.policy for v in self.violations if level is None or v.level == level}

    def for_policy(self, name: str) -> list[Violation]:
        return [v for v in self.violations if v.policy == name]

    def render(self) -> str:
        """The report as text: violations grouped by level and policy, each policy's fix once, the verdict."""
        lines = [f"Policy pack {PACK_NAME}@v{pack_version()}: {self.resources_checked} resources checked"]
        lines += [f"warning: {w}" for w in self.warnings]
        for remediation in self.remediations:
            lines.append(f"REMEDIATED {remediation.policy}: {remediation.urn}")
            lines += [f"    {change}" for change in remediation.changes or (remediation.diagnostic,)]
        order = {"mandatory": 0, "advisory": 1}
        groups: dict[tuple[str, str], list[Violation]] = {}
        for violation in sorted(self.violations, key=lambda v: (order.get(v.level, 2), v.policy, v.urn)):
            groups.setdefault((violation.level, violation.policy), []).append(violation)
        for (level, policy), found in groups.items():
            lines.append(f"{level.upper()} {policy} [{found[0].severity}]: {len(found)} violation(s)")
            steps = self.remediation_steps.get(policy)
            if steps and not all(v.unknown for v in found):
                lines.append(f"  fix: {steps}")
            for violation in found:
                lines.append(f"  - {violation.urn or '(stack)'}")
                lines += [f"      {line}" for line in violation.message.splitlines()]
        if any(v.unknown for v in self.violations):
            lines.append("note: unknown values (and secrets, which an export holds encrypted) cannot be checked "
                         "offline; the rules that need them are reported as advisory")
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(f"{verdict}: {len(self.mandatory)} mandatory, {len(self.advisory)} advisory violation(s), "
                     f"{len(self.remediations)} remediation(s)")
        return "\n".join(lines)


# --- the runner ----------------------------------------------------------------------------------------


def _changes(before: Any, after: Any, path: str = "") -> list[str]:
    """Paths whose values differ, for the remediation report."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        found: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            found += _changes(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    if before != after:
        return [f"{path}: {json.dumps(before)} -> {json.dumps(after)}"]
    return []


class _Source:
    """The properties of one resource as the analyzer reads them: JSON, encoded and decoded on demand.

    The runner does not re-encode properties into the request's Struct only for the servicer to
    decode it again with ``MessageToDict`` (in Python, once per policy): the request goes out
    with the Struct empty and this source beside it (:meth:`_SharedConversions.add`). The value
    is the same one ``MessageToDict`` would return for the Struct built from this JSON, every
    number a double; it is computed when a rule first reads the properties, once per source.
    """

    __slots__ = ("_decoded", "_keep_text", "_plain", "_properties", "_text")

    def __init__(
        self, properties: Mapping[str, Any] | None = None, text: str | None = None, *, keep_text: bool = True,
    ) -> None:
        self._properties = properties
        self._text = text
        self._keep_text = keep_text
        self._plain: bool | None = None
        self._decoded: Any = None

    @property
    def text(self) -> str:
        """The JSON (engine signatures made readable, see :func:`_json_text`)."""
        if self._text is None:
            self._text = _json_text(self._properties)
        return self._text

    @property
    def plain(self) -> bool:
        """Whether the JSON holds no engine signature, so ``deserialize_properties`` would only copy it."""
        if self._plain is None:
            self._plain = SIGNATURE_KEY not in self.text
        return self._plain

    def value(self) -> Any:
        """The decoded JSON (the same object on every call); the text goes unless it is to be kept."""
        if self._decoded is None:
            text = self.text
            self._plain = SIGNATURE_KEY not in text
            self._decoded = _decoded(text)
            if not self._keep_text:
                self._text = None
        return self._decoded

    def fresh(self) -> _Source:
        """A source of the same properties that decodes them anew (for another servicer call)."""
        return _Source(self._properties, self._text, keep_text=False)

    def release(self) -> None:
        """Forget the decoded value: the call that read it is over."""
        self._decoded = None


class _Deferred:
    """What ``MessageToDict`` returns inside a call for a Struct sent with a :class:`_Source`.

    The servicer hands it straight to ``deserialize_properties`` and ``unknown_checking_proxy``
    (both replaced too, see :class:`_SharedConversions`), whose result is a proxy that decodes the
    source on first read, so properties no rule reads are never decoded.
    """

    __slots__ = ("proxy", "source")

    def __init__(self, source: _Source) -> None:
        self.source = source
        self.proxy: _DeferredDictProxy | None = None


#: The names ``pulumi_policy.policy`` converts request properties with.
_CONVERSIONS: Final = ("json_format", "deserialize_properties", "unknown_checking_proxy")
_UNKNOWNS: Final = frozenset({
    proxy_module.UNKNOWN_BOOLEAN_VALUE,
    proxy_module.UNKNOWN_NUMBER_VALUE,
    proxy_module.UNKNOWN_STRING_VALUE,
    proxy_module.UNKNOWN_ARRAY_VALUE,
    proxy_module.UNKNOWN_ASSET_VALUE,
    proxy_module.UNKNOWN_ARCHIVE_VALUE,
    proxy_module.UNKNOWN_OBJECT_VALUE,
})
_MISSING: Final = object()


def _lazy_proxy(value: Any, path: list[str]) -> Any:
    """``pulumi_policy.proxy._proxy_helper``, one level at a time (see :class:`_LazyDictProxy`)."""
    if isinstance(value, list):
        return _LazyListProxy(value, path)
    if isinstance(value, dict):
        return _LazyDictProxy(value, path)
    return value


def _wrapped(value: Any, parent_path: list[str], key: Any) -> Any:
    """A decoded child as the proxies hand it out: scalars as they are, containers as lazy proxies."""
    kind = type(value)
    if kind is str or kind is float or kind is bool or value is None:
        return value
    if isinstance(value, list):
        return _LazyListProxy(value, [*parent_path, str(key)])
    if isinstance(value, dict):
        return _LazyDictProxy(value, [*parent_path, str(key)])
    return value


class _LazyDictProxy(_DictProxy):
    """The analyzer's unknown-checking ``_DictProxy``, wrapping each child when it is first read.

    ``unknown_checking_proxy`` copies the whole properties tree into proxies before a rule reads
    anything; this subclass behaves the same for every read (same values, the same child proxy on
    each read, ``UnknownValueError`` with the same path when an unknown is touched,
    ``["__target"]`` for ``serialize_properties``, writes stored and read back unwrapped) but
    only wraps what the rules actually read.
    """

    __slots__ = ("_children", "_path", "_target")

    def __init__(self, target: dict[Any, Any], path: list[str]) -> None:
        self._target = target
        self._path = path
        self._children: dict[Any, Any] = {}

    def _child(self, key: Any, value: Any) -> Any:
        child = _wrapped(value, self._path, key)
        self._children[key] = child
        return child

    # ``_children`` never holds the key "__target": reading that key gives the target itself.

    def _unchecked(self, key: Any, value: Any) -> Any:
        child = self._children.get(key, _MISSING)
        if child is not _MISSING:
            return child
        if isinstance(value, str) and value in _UNKNOWNS:
            return value
        if key == "__target":
            return _lazy_proxy(value, [*self._path, str(key)])
        return self._child(key, value)

    def __getitem__(self, key: Any) -> Any:
        child = self._children.get(key, _MISSING)
        if child is not _MISSING:
            return child
        if key == "__target":
            return {k: self._unchecked(k, v) for k, v in self._target.items()}
        value = self._target[key]
        if type(value) is str:
            if value in _UNKNOWNS:
                raise UnknownValueError(value, [*self._path, str(key)])
            self._children[key] = value
            return value
        if isinstance(value, str) and value in _UNKNOWNS:
            raise UnknownValueError(value, [*self._path, str(key)])
        return self._child(key, value)

    def get(self, key: Any, default: Any = None) -> Any:
        """``Mapping.get`` (``self[key]``, ``default`` on a KeyError), without its indirections."""
        child = self._children.get(key, _MISSING)
        if child is not _MISSING:
            return child
        if key == "__target":
            return self["__target"]
        value = self._target.get(key, _MISSING)
        if value is _MISSING:
            return default
        if type(value) is str:
            if value in _UNKNOWNS:
                raise UnknownValueError(value, [*self._path, str(key)])
            self._children[key] = value
            return value
        if isinstance(value, str) and value in _UNKNOWNS:
            raise UnknownValueError(value, [*self._path, str(key)])
        return self._child(key, value)

    def __contains__(self, key: Any) -> bool:
        """``Mapping.__contains__`` (``self[key]`` succeeds), without its indirections."""
        if key in self._children or key == "__target":
            return True
        value = self._target.get(key, _MISSING)
        if value is _MISSING:
            return False
        if isinstance(value, str) and value in _UNKNOWNS:
            raise UnknownValueError(value, [*self._path, str(key)])
        return True

    def __setitem__(self, key: Any, value: Any) -> None:
        self._target[key] = value
        if key == "__target":
            return
        if isinstance(value, str) and value in _UNKNOWNS:
            self._children.pop(key, None)
        else:
            self._children[key] = value

    def __len__(self) -> int:
        return len(self._target)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._target)

    def items(self) -> ItemsView[Any, Any]:
        return _LazyItems(self)

    def values(self) -> ValuesView[Any]:
        return _LazyValues(self)

    def _entries(self) -> Iterator[tuple[Any, Any]]:
        """``(key, self[key])`` for each key, as ``ItemsView`` iterates them."""
        children = self._children
        for key, value in self._target.items():
            child = children.get(key, _MISSING)
            if child is _MISSING:
                if key == "__target":
                    child = self["__target"]
                elif isinstance(value, str) and value in _UNKNOWNS:
                    raise UnknownValueError(value, [*self._path, str(key)])
                else:
                    child = self._child(key, value)
            yield key, child

    def __repr__(self) -> str:
        return f"<pulumi_policy.proxy._DictProxy object at {id(self):#x}>"


class _LazyItems(ItemsView[Any, Any]):
    """``items()`` of a :class:`_LazyDictProxy`: the ``ItemsView``, iterated without an indirection per key."""

    def __init__(self, proxy: _LazyDictProxy) -> None:
        super().__init__(proxy)
        self._proxy = proxy

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        return self._proxy._entries()


class _LazyValues(ValuesView[Any]):
    """``values()`` of a :class:`_LazyDictProxy`: the ``ValuesView``, iterated without an indirection per key."""

    def __init__(self, proxy: _LazyDictProxy) -> None:
        super().__init__(proxy)
        self._proxy = proxy

    def __iter__(self) -> Iterator[Any]:
        for _, value in self._proxy._entries():
            yield value


class _DeferredDictProxy(_LazyDictProxy):
    """The top-level proxy of a :class:`_Deferred` value: the source is decoded on first read."""

    __slots__ = ("_deserialize", "_source")

    def __init__(self, source: _Source, deserialize: Callable[[Any], Any]) -> None:
        # no _target yet: __getattr__ supplies it on first use
        self._source = source
        self._deserialize = deserialize
        self._path = []
        self._children = {}

    def __getattr__(self, name: str) -> Any:
        if name != "_target":
            raise AttributeError(name)
        value = self._source.value()
        if not self._source.plain:
            value = self._deserialize(value)
        if not isinstance(value, dict):
            raise TypeError(f"resource properties must be an object, got {type(value).__name__}")
        self._target = value
        return value


class _LazyListProxy(_ListProxy):
    """The analyzer's unknown-checking ``_ListProxy``, wrapping each element when it is first read."""

    __slots__ = ("_children", "_path", "_target")

    def __init__(self, target: list[Any], path: list[str]) -> None:
        self._target = target
        self._path = path
        self._children: dict[int, Any] = {}

    def _element(self, index: int) -> Any:
        """Element ``index`` (non-negative, in range) wrapped, without the unknown check."""
        child = self._children.get(index, _MISSING)
        if child is _MISSING:
            value = self._target[index]
            if isinstance(value, str) and value in _UNKNOWNS:
                return value
            child = _wrapped(value, self._path, index)
            self._children[index] = child
        return child

    def __iter__(self) -> Iterator[Any]:
        """``Sequence.__iter__`` (``self[0]``, ``self[1]``, ... until IndexError), without its indirections."""
        target = self._target
        index = 0
        while index < len(target):
            value = target[index]
            if isinstance(value, str) and value in _UNKNOWNS:
                raise UnknownValueError(value, [*self._path, str(index)])
            yield self._element(index)
            index += 1

    def __getitem__(self, key: Any) -> Any:
        if key == "__target":
            return [self._element(index) for index in range(len(self._target))]
        value = self._target[key]
        if isinstance(key, slice):
            return [self._element(index) for index in range(*key.indices(len(self._target)))]
        if isinstance(value, str) and value in _UNKNOWNS:
            raise UnknownValueError(value, [*self._path, str(key)])
        index = operator.index(key)
        return self._element(index + len(self._target) if index < 0 else index)

    def __len__(self) -> int:
        return len(self._target)

    def __repr__(self) -> str:
        return f"<pulumi_policy.proxy._ListProxy object at {id(self):#x}>"


class _SharedConversions:
    """How the servicer turns request properties into the rules' view: once per call, and cheaply.

    ``Analyze`` (and ``AnalyzeStack``) run ``MessageToDict``, ``deserialize_properties`` and
    ``unknown_checking_proxy`` on the same message for every policy. While installed (for one
    evaluation), this object replaces those three names in ``pulumi_policy.policy``; outside a
    servicer call (:meth:`call`) they behave as the originals. Inside one:

    - ``MessageToDict`` of a Struct sent with a :class:`_Source` (:meth:`add`) gives a
      :class:`_Deferred` instead of walking the message, the same one for every message sent with
      that source, so the policies of the call (and the per-policy copies of a stack resource)
      share one view of the resource's properties;
    - ``unknown_checking_proxy`` builds :class:`_LazyDictProxy` views, which read like the
      pulumi-policy ones (same values, same ``UnknownValueError`` for unknowns) but wrap only what
      the rules read, and decode a deferred source on first read (through the original
      ``deserialize_properties`` when its JSON holds engine signatures, e.g. secrets);
    - any other message (a remediated Struct) is converted the original way, memoised by object
      identity (upb hands out the same wrapper for the same sub-message, and the memo keeps every
      object alive, so an identity is never reused).

    The servicer's own logic is untouched. Policies share the view, as remediations already do
    inside ``Remediate``, so they must not write to ``args.props`` (none of this pack does). The
    patch is module-level: one evaluation at a time per process, never two concurrently in
    threads (nor a served ``PolicyPack`` in the same process meanwhile).
    """

    def __init__(self) -> None:
        self._sources: dict[int, tuple[Any, _Deferred]] = {}
        self._deferred: dict[int, _Deferred] = {}
        self._memo: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._saved: dict[str, Any] = {}
        self._active = False
        self._call = _Call(self)

    def add(self, message: Any, source: _Source) -> None:
        """Tell the next call that the Struct ``message`` holds the properties of ``source``."""
        deferred = self._deferred.get(id(source))
        if deferred is None or deferred.source is not source:
            deferred = self._deferred[id(source)] = _Deferred(source)
        self._sources[id(message)] = (message, deferred)

    def call(self) -> _Call:
        """One servicer call (or several sharing their sources): memoise, then forget everything."""
        return self._call

    def _begin(self) -> None:
        self._active = True

    def _end(self) -> None:
        self._active = False
        self._sources.clear()
        self._deferred.clear()
        self._memo.clear()

    def _message_to_dict(self, message: Any, *rest: Any) -> Any:
        if rest or not self._active:
            return json_format.MessageToDict(message, *rest)
        known = self._sources.get(id(message))
        if known is not None and known[0] is message:
            return known[1]
        key = ("dict", id(message))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is message:
            return hit[1]
        result = json_format.MessageToDict(message)
        self._memo[key] = (message, result)
        return result

    def _deserialize(self, props: Any, *rest: Any) -> Any:
        original = self._saved["deserialize_properties"]
        if type(props) is _Deferred:
            return original(props.source.value(), *rest) if rest else props
        if rest or not self._active:
            return original(props, *rest)
        key = ("deserialized", id(props))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is props:
            return hit[1]
        result = original(props)
        self._memo[key] = (props, result)
        return result

    def _proxy(self, props: Any) -> Any:
        if type(props) is _Deferred:
            if props.proxy is None:
                props.proxy = _DeferredDictProxy(props.source, self._saved["deserialize_properties"])
            return props.proxy
        if not self._active:
            return self._saved["unknown_checking_proxy"](props)
        key = ("proxy", id(props))
        hit = self._memo.get(key)
        if hit is not None and hit[0] is props:
            return hit[1]
        result = _lazy_proxy(props, [])
        self._memo[key] = (props, result)
        return result

    def __enter__(self) -> _SharedConversions:
        self._saved = {name: getattr(policy_module, name) for name in _CONVERSIONS}
        replacements = {
            "json_format": SimpleNamespace(MessageToDict=self._message_to_dict),
            "deserialize_properties": self._deserialize,
            "unknown_checking_proxy": self._proxy,
        }
        for name, replacement in replacements.items():
            setattr(policy_module, name, replacement)
        return self

    def __exit__(self, *_: object) -> None:
        for name, value in self._saved.items():
            setattr(policy_module, name, value)
        self._end()


class _Call:
    """The context of one servicer call (see :meth:`_SharedConversions.call`)."""

    __slots__ = ("_conversions",)

    def __init__(self, conversions: _SharedConversions) -> None:
        self._conversions = conversions

    def __enter__(self) -> None:
        self._conversions._begin()

    def __exit__(self, *_: object) -> None:
        self._conversions._end()


class PolicyRunner:
    """The pack, configured once, ready to evaluate any number of resource lists."""

    def __init__(self, policy_config: Mapping[str, Any] | None = None) -> None:
        infos = pack_info()
        self.infos = {info.name: info for info in infos}
        self.resolved, self.warnings = resolve_policy_config(policy_config, infos)
        self.policies = {p.name: p for p in all_policies()}
        self._configure = analyzer_pb2.ConfigureAnalyzerRequest()
        for name, resolved in self.resolved.items():
            entry = self._configure.policyConfig[name]
            entry.enforcementLevel = _LEVEL_TO_PROTO[resolved.level]
            entry.properties.update(dict(resolved.properties))
        self._resource_policies = [
            p for p in self.policies.values()
            if isinstance(p, ResourceGuardrail) and self.resolved[p.name].level != "disabled"
        ]
        self._stack_policies = [
            p for p in self.policies.values()
            if isinstance(p, StackGuardrail) and self.resolved[p.name].level != "disabled"
        ]
        self._stack_servicers = [(policy, self._configured([policy])) for policy in self._stack_policies]
        self._by_type: dict[str, tuple[_PolicyAnalyzerServicer, bool] | None] = {}
        self._by_policies: dict[tuple[str, ...], _PolicyAnalyzerServicer] = {}
        self._stack_types: dict[str, tuple[int, ...]] = {}
        #: Processes an evaluation may use (see :func:`default_workers`); 1 keeps it in this process.
        self.workers = default_workers()

    def _configured(self, policies: Sequence[Guardrail]) -> _PolicyAnalyzerServicer:
        servicer = _servicer(policies)
        servicer.Configure(self._configure, None)  # type: ignore[no-untyped-call]
        return servicer

    def _for_type(self, resource_type: str) -> tuple[_PolicyAnalyzerServicer, bool] | None:
        """The servicer holding the policies for one resource type, and whether any remediates."""
        if resource_type not in self._by_type:
            chosen = [p for p in self._resource_policies if p.applies_to(resource_type)]
            if not chosen:
                self._by_type[resource_type] = None
            else:
                key = tuple(p.name for p in chosen)
                if key not in self._by_policies:
                    self._by_policies[key] = self._configured(chosen)
                remediates = any(self.resolved[p.name].level == "remediate" for p in chosen)
                self._by_type[resource_type] = (self._by_policies[key], remediates)
        return self._by_type[resource_type]

    @cached_property
    def remediation_steps(self) -> dict[str, str]:
        return {name: info.remediation_steps for name, info in self.infos.items()}

    def _violation(self, diagnostic: Any, urn: str, resource_type: str) -> Violation:
        description = diagnostic.description
        message = diagnostic.message
        if message.startswith(description):
            message = message[len(description):].lstrip("\n")
        info = self.infos.get(diagnostic.policyName)
        severity = _PROTO_TO_SEVERITY.get(diagnostic.severity) or (info.severity if info else "unspecified")
        return Violation(
            policy=diagnostic.policyName,
            urn=diagnostic.urn or urn,
            resource_type=resource_type,
            level=_PROTO_TO_LEVEL[diagnostic.enforcementLevel],
            severity=severity,
            message=message or description,
            description=description,
        )

    def evaluate(self, resources: Iterable[Mapping[str, Any] | EngineResource | Any]) -> PolicyReport:
        """Analyze every resource, then the stack; see :func:`evaluate`.

        The cyclic garbage collector is paused meanwhile: the analyzer allocates millions of small
        objects (none of them in cycles), and each full collection would rescan them all, which
        makes a big export quadratic instead of linear.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            with _SharedConversions() as conversions:
                return self._evaluate(resources, conversions)
        finally:
            if collecting:
                gc.enable()

    def _evaluate(
        self, resources: Iterable[Mapping[str, Any] | EngineResource | Any], conversions: _SharedConversions
    ) -> PolicyReport:
        normalised = [_normalise(r) for r in resources]
        by_urn = {r.urn: r for r in normalised}
        providers: dict[str, _Provider | None] = {}

        def provider_of(resource: EngineResource) -> _Provider | None:
            if not resource.provider:
                return None
            urn = _provider_urn(resource.provider)
            if urn not in providers:
                found = by_urn.get(urn)
                providers[urn] = None if found is None else _Provider.of(found)
            return providers[urn]

        work: list[_Work] = []
        checked = 0
        for resource in normalised:
            if resource.type == STACK_TYPE or resource.type.startswith(PROVIDER_PREFIX):
                continue
            checked += 1
            route = self._for_type(resource.type)
            if route is not None:
                work.append((resource, route[0], route[1]))

        def analyze(items: Sequence[_Work]) -> _Analyzed:
            return self._analyze(items, provider_of, conversions)

        def analyze_stack(done: _Analyzed) -> list[Violation]:
            return self._analyze_stack(normalised, provider_of, done, conversions)

        workers = self.workers if len(work) >= _PARALLEL_MIN_RESOURCES else 1
        if workers > 1 and _can_fork():
            done, stack = _in_two_processes(work, analyze, analyze_stack)
        else:
            done = analyze(work)
            stack = analyze_stack(done)
        return PolicyReport(done.violations + stack, done.remediations, {n: r.level for n, r in self.resolved.items()},
                            list(self.warnings), checked, self.remediation_steps)

    def _analyze(
        self, work: Sequence[_Work], provider_of: Callable[[EngineResource], _Provider | None],
        conversions: _SharedConversions,
    ) -> _Analyzed:
        """Remediate (where a policy remediates) and Analyze each resource, in order."""
        done = _Analyzed()
        for resource, servicer, remediates in work:
            # the stack reuses the inputs' JSON of a resource without outputs; a remediation diffs it
            stack_reads = bool(self._stack_readers(resource.type))
            stack_reads_inputs = stack_reads and not resource.outputs
            source = _Source(resource.inputs, keep_text=remediates or stack_reads_inputs)
            options = resource.options()
            request = analyzer_pb2.AnalyzeRequest(
                type=resource.type, urn=resource.urn, name=resource.name, options=options,
            )
            request.properties.SetInParent()
            if stack_reads_inputs:
                done.sources[resource.urn] = source
            if stack_reads:
                done.options[resource.urn] = options
            provider = provider_of(resource)
            if provider is not None:
                request.provider.CopyFrom(provider.message)
            if remediates:
                conversions.add(request.properties, source)
                if provider is not None:
                    conversions.add(request.provider.properties, provider.source.fresh())
                with conversions.call():
                    self._remediate(servicer, request, source, resource, done)
            if resource.urn not in done.remediated:
                conversions.add(request.properties, source)
            if provider is not None:
                conversions.add(request.provider.properties, provider.source.fresh())
            with conversions.call():
                response = servicer.Analyze(request, None)  # type: ignore[no-untyped-call]
            source.release()
            done.violations += [self._violation(d, resource.urn, resource.type) for d in response.diagnostics]
        return done

    def _remediate(
        self,
        servicer: _PolicyAnalyzerServicer,
        request: analyzer_pb2.AnalyzeRequest,
        source: _Source,
        resource: EngineResource,
        done: _Analyzed,
    ) -> None:
        """The CLI's remediation step: apply each remediation in order, then analyze the result."""
        response = servicer.Remediate(request, None)  # type: ignore[no-untyped-call]
        before = _decoded(source.text)
        for item in response.remediations:
            if item.HasField("properties") and item.properties.fields:
                after = json_format.MessageToDict(item.properties)
                done.remediations.append(Remediation(item.policyName, resource.urn, tuple(_changes(before, after))))
                request.properties.CopyFrom(item.properties)
                done.remediated[resource.urn] = request.properties
                before = after
            elif item.diagnostic:
                done.remediations.append(Remediation(item.policyName, resource.urn, (), item.diagnostic))

    def _stack_readers(self, resource_type: str) -> tuple[int, ...]:
        """Which stack policies (by position) read resources of this type."""
        readers = self._stack_types.get(resource_type)
        if readers is None:
            servicers = self._stack_servicers
            readers = tuple(i for i, (policy, _) in enumerate(servicers) if policy.applies_to(resource_type))
            self._stack_types[resource_type] = readers
        return readers

    def _analyze_stack(
        self,
        resources: Sequence[EngineResource],
        provider_of: Callable[[EngineResource], _Provider | None],
        done: _Analyzed,
        conversions: _SharedConversions,
    ) -> list[Violation]:
        """AnalyzeStack, once per stack policy, with the resources of the types that policy reads.

        A stack policy only ever looks at its own types (:class:`StackGuardrail`), so the verdict is
        the one of a single call with every resource; the servicer, though, builds its view of
        every resource in the request once per policy it holds, so splitting keeps that linear in
        what each policy reads. A resource read by several policies is described once and copied;
        all copies read as one value. The properties are the resource's remediated inputs, else
        its outputs (the stack's state), else its inputs.
        """
        requests = [analyzer_pb2.AnalyzeStackRequest() for _ in self._stack_servicers]
        types: dict[str, str] = {}
        stack_sources: dict[str, _Source] = {}
        for resource in resources:
            readers = self._stack_readers(resource.type)
            if not readers:
                continue
            known = done.options.get(resource.urn)
            item = requests[readers[0]].resources.add(
                type=resource.type, urn=resource.urn, name=resource.name, parent=resource.parent,
                dependencies=resource.dependencies, options=resource.options() if known is None else known,
            )
            source: _Source | None = None
            remediated = done.remediated.get(resource.urn)
            if remediated is not None:
                item.properties.CopyFrom(remediated)
            else:
                item.properties.SetInParent()
                inputs = done.sources.get(resource.urn)
                if inputs is not None and not resource.outputs:
                    source = inputs.fresh()
                else:
                    source = _Source(resource.outputs or resource.inputs, keep_text=False)
            for key, urns in resource.property_dependencies.items():
                item.propertyDependencies[key].urns.extend(urns)
            provider = provider_of(resource)
            provider_source: _Source | None = None
            if provider is not None:
                item.provider.CopyFrom(provider.message)
                provider_source = stack_sources.setdefault(provider.message.urn, provider.source.fresh())
            copies = [item]
            for reader in readers[1:]:
                copy = requests[reader].resources.add()
                copy.CopyFrom(item)
                copies.append(copy)
            for copy in copies:
                if source is not None:
                    conversions.add(copy.properties, source)
                if provider_source is not None:
                    conversions.add(copy.provider.properties, provider_source)
            types[resource.urn] = resource.type
        violations: list[Violation] = []
        with conversions.call():
            for (_, servicer), request in zip(self._stack_servicers, requests, strict=True):
                response = servicer.AnalyzeStack(request, None)  # type: ignore[no-untyped-call]
                violations += [self._violation(d, d.urn, types.get(d.urn, "")) for d in response.diagnostics]
        return violations


#: One resource to analyze, the servicer holding the policies of its type, and whether any remediates.
_Work = tuple[EngineResource, _PolicyAnalyzerServicer, bool]


@dataclass
class _Analyzed:
    """What analyzing resources produced: violations and remediations in resource order, the
    remediated properties (which the stack then sees), and what the stack step may reuse."""

    violations: list[Violation] = field(default_factory=list)
    remediations: list[Remediation] = field(default_factory=list)
    remediated: dict[str, struct_pb2.Struct] = field(default_factory=dict)
    sources: dict[str, _Source] = field(default_factory=dict)
    options: dict[str, analyzer_pb2.AnalyzerResourceOptions] = field(default_factory=dict)

    def extend(self, other: _Analyzed) -> None:
        self.violations += other.violations
        self.remediations += other.remediations
        self.remediated.update(other.remediated)
        self.sources.update(other.sources)
        self.options.update(other.options)


# --- two processes: the analysis of a big export on both cores ----------------------------------------

#: Fewest resources to analyze for which a second process pays off (forking costs milliseconds).
_PARALLEL_MIN_RESOURCES: Final = 500
#: Resources per unit of work the two processes take turns at.
_CHUNK: Final = 64
#: Environment variable that sets the number of processes (1 turns the second one off).
WORKERS_ENV: Final = "POLICY_RUNNER_WORKERS"


def default_workers() -> int:
    """Processes an evaluation may use: 1, unless ``$POLICY_RUNNER_WORKERS=2`` opts in to a fork.

    One process is the default: forking a process that has gRPC (the Pulumi runtime) loaded is not
    something CI or a user's tooling should meet by surprise; large offline checks can opt in.
    """
    configured = os.environ.get(WORKERS_ENV, "").strip()
    try:
        requested = int(configured) if configured else 1
    except ValueError:
        return 1
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(2, requested, cpus))


def _can_fork() -> bool:
    """Whether a second process can be forked: on POSIX, from the main thread.

    The forked process only computes and writes its result to its own pipe, so other threads of
    this process (the mock engine leaves idle executor threads behind) do not matter unless one
    holds a process-wide lock at that moment, as with ``multiprocessing``'s fork start method;
    where that cannot be ruled out, set ``$POLICY_RUNNER_WORKERS=1``.
    """
    return hasattr(os, "fork") and threading.current_thread() is threading.main_thread()


_Failure = tuple[int, BaseException]


def _take_chunks(
    queue: int, chunks: Sequence[Sequence[_Work]], analyze: Callable[[Sequence[_Work]], _Analyzed],
) -> tuple[dict[int, _Analyzed], _Failure | None]:
    """Analyze chunks taken from the shared queue (each read takes one index) until it is empty.

    Chunks are taken in increasing order, so when this process fails on one, every earlier chunk
    has been taken, by it or by the other process, and the first failure is the one a sequential
    run would have raised.
    """
    done: dict[int, _Analyzed] = {}
    while record := os.read(queue, 4):
        index = int.from_bytes(record, "little")
        try:
            done[index] = analyze(chunks[index])
        except Exception as error:  # reported in order, as a sequential run would
            return done, (index, error)
    return done, None


def _portable(error: BaseException) -> BaseException:
    """The error itself when it survives pickling, else a RuntimeError carrying its traceback."""
    try:
        restored = pickle.loads(pickle.dumps(error))
        if isinstance(restored, BaseException):
            return error
    except Exception:  # any failure means: send the text instead
        pass
    return RuntimeError("".join(traceback.format_exception(error)))


def _in_two_processes(
    work: Sequence[_Work],
    analyze: Callable[[Sequence[_Work]], _Analyzed],
    analyze_stack: Callable[[_Analyzed], list[Violation]],
) -> tuple[_Analyzed, list[Violation]]:
    """Analyze ``work`` on two processes (this one and a fork), then the stack; as a sequential run.

    Both processes take chunks of resources from a pipe (one 4-byte index per read) until none
    is left; the results are put back in resource order. When no policy remediates, the stack step
    needs nothing from the analysis, so the forked process runs it first, meanwhile this one
    analyzes; otherwise it runs here afterwards, on the remediated properties. Errors surface as
    in a sequential run: the first failing resource's, then the stack step's (one raised in the
    forked process and that cannot be pickled arrives as a RuntimeError holding its traceback).
    """
    chunk = max(_CHUNK, -(-len(work) // 4096))  # at most 4,096 indices: they fit the pipe's buffer
    chunks = [work[i:i + chunk] for i in range(0, len(work), chunk)]
    stack_first = not any(remediates for _, _, remediates in work)
    queue, queue_in = os.pipe()
    os.write(queue_in, b"".join(i.to_bytes(4, "little") for i in range(len(chunks))))
    os.close(queue_in)
    results, results_in = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the second process: never returns
        os.close(results)
        status = 1
        try:
            with os.fdopen(results_in, "wb") as out:
                out.write(_second_process(queue, chunks, analyze, analyze_stack if stack_first else None))
            status = 0
        finally:
            os._exit(status)
    os.close(results_in)
    incoming = os.fdopen(results, "rb")
    try:
        mine, my_failure = _take_chunks(queue, chunks, analyze)
        data = incoming.read()
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        incoming.close()
        os.close(queue)
        _, status = os.waitpid(pid, 0)
    if not data:
        raise RuntimeError(f"the second policy evaluation process failed (wait status {status})")
    theirs, their_failure, stack, stack_error = pickle.loads(data)
    failures = sorted((f for f in (my_failure, their_failure) if f is not None), key=lambda f: f[0])
    if failures and failures[0][0] < 0:  # the second process itself failed
        raise failures[0][1]
    first = failures[0][0] if failures else len(chunks)
    done = _Analyzed()
    for index in range(len(chunks)):
        if index == first:
            raise failures[0][1]
        done.extend(mine[index] if index in mine else theirs[index].restored())
    if not stack_first:
        return done, analyze_stack(done)
    if stack_error is not None:
        raise stack_error
    return done, stack


def _second_process(
    queue: int,
    chunks: Sequence[Sequence[_Work]],
    analyze: Callable[[Sequence[_Work]], _Analyzed],
    analyze_stack: Callable[[_Analyzed], list[Violation]] | None,
) -> bytes:
    """The forked process's work (the stack step first, if given; then chunks), pickled for the first."""
    try:
        stack: list[Violation] | None = None
        stack_error: BaseException | None = None
        if analyze_stack is not None:
            try:
                stack = analyze_stack(_Analyzed())
            except Exception as error:  # raised by the first process, in order
                stack_error = _portable(error)
        taken, failure = _take_chunks(queue, chunks, analyze)
        sent = {index: _Sent.of(part) for index, part in taken.items()}
        payload = (sent, None if failure is None else (failure[0], _portable(failure[1])), stack, stack_error)
        return pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # the process itself failed: say why, as the first failure
        reason = "".join(traceback.format_exception(error))
        crash = RuntimeError(f"the second policy evaluation process failed:\n{reason}")
        return pickle.dumps(({}, (-1, crash), None, None), protocol=pickle.HIGHEST_PROTOCOL)


@dataclass(frozen=True)
class _Sent:
    """A chunk's results as the second process sends them (remediated Structs as bytes)."""

    violations: list[Violation]
    remediations: list[Remediation]
    remediated: dict[str, bytes]

    @classmethod
    def of(cls, done: _Analyzed) -> _Sent:
        return cls(done.violations, done.remediations,
                   {urn: struct.SerializeToString() for urn, struct in done.remediated.items()})

    def restored(self) -> _Analyzed:
        return _Analyzed(self.violations, self.remediations,
                         {urn: struct_pb2.Struct.FromString(data) for urn, data in self.remediated.items()})


@dataclass(frozen=True)
class _Provider:
    """A provider as the analyzer sees it (its Struct built once), and the source of its properties."""

    message: analyzer_pb2.AnalyzerProviderResource
    source: _Source

    @classmethod
    def of(cls, resource: EngineResource) -> _Provider:
        source = _Source(resource.inputs or resource.outputs)
        message = analyzer_pb2.AnalyzerProviderResource(
            type=resource.type, properties=_struct_from_text(source.text), urn=resource.urn, name=resource.name,
        )
        return cls(message, source)


def _normalise(item: Mapping[str, Any] | EngineResource | Any) -> EngineResource:
    if isinstance(item, EngineResource):
        return item
    if isinstance(item, Mapping):
        return EngineResource.from_export(item)
    if hasattr(item, "raw_inputs"):
        return EngineResource.from_recorded(item)
    raise ExportError(f"cannot evaluate {type(item).__name__}: give export-shaped dicts or recorded resources")


_RUNNERS: dict[str, PolicyRunner] = {}


def runner_for(policy_config: Mapping[str, Any] | None = None) -> PolicyRunner:
    """A configured runner, reused for equal configs (building one runs the config validation)."""
    key = json.dumps(policy_config, sort_keys=True, default=str)
    if key not in _RUNNERS:
        _RUNNERS[key] = PolicyRunner(policy_config)
    return _RUNNERS[key]


def evaluate(
    resources: Iterable[Mapping[str, Any] | EngineResource | Any],
    policy_config: Mapping[str, Any] | None = None,
) -> PolicyReport:
    """Evaluate the policy pack on resources, as ``pulumi preview --policy-pack`` would.

    ``resources``: export-shaped dicts ``{type, urn, inputs, outputs?, parent?, provider?, protect?,
    dependencies?}`` (``name`` defaults to the URN's last part), :class:`EngineResource` objects, or
    ``ack_alluxio_training.offline.mock_engine.RecordedResource`` objects. ``policy_config``: the parsed content of a
    ``--policy-pack-config`` file, or None for the pack's defaults. Raises :class:`PolicyConfigError`
    for a config the CLI would refuse and :class:`ExportError` for malformed resources.
    """
    return runner_for(policy_config).evaluate(resources)


def evaluate_export(
    export: Mapping[str, Any] | Sequence[Any] | str | Path,
    policy_config: Mapping[str, Any] | str | Path | None = None,
) -> PolicyReport:
    """Evaluate a ``pulumi stack export`` document (or the path of one) with a policy config
    (the parsed document, the path of a ``--policy-pack-config`` file, or None for the defaults)."""
    resources = load_export(export) if isinstance(export, (str, Path)) else resources_from_export(export)
    config = load_policy_config(policy_config) if isinstance(policy_config, (str, Path)) else policy_config
    return evaluate(resources, config)


def evaluate_plan(plan: Any, policy_config: Mapping[str, Any] | None = None) -> PolicyReport:
    """Evaluate an ``ack_alluxio_training.offline.mock_engine.PlanResult``."""
    return evaluate(resources_from_plan(plan), policy_config)


def environment_config_path(environment: str) -> Path:
    """``policies/config/<environment>.json``, shipped inside the installed policy package."""
    return PACK_DIR / "config" / f"{environment}.json"


__all__ = [
    "EngineResource",
    "ExportError",
    "PolicyConfigError",
    "PolicyInfo",
    "PolicyReport",
    "PolicyRunner",
    "Remediation",
    "ResolvedPolicy",
    "Violation",
    "environment_config_path",
    "evaluate",
    "evaluate_export",
    "evaluate_plan",
    "export_shape",
    "load_export",
    "load_policy_config",
    "pack_info",
    "parse_policy_config",
    "resolve_policy_config",
    "resources_from_export",
    "resources_from_plan",
]
