"""Evaluate the policy pack offline with pulumi-policy's own analyzer, the way the Pulumi CLI does.

There is no second policy engine here. The pack's policies are served by pulumi-policy's
``_PolicyAnalyzerServicer`` (the object ``PolicyPack`` serves over gRPC), called in-process with
the same protobuf requests the CLI sends: ``GetAnalyzerInfo``, ``Configure``, then per resource
``Remediate`` (when a policy is at the remediate level) and ``Analyze``, and ``AnalyzeStack`` once.
Around it this module reproduces what the CLI itself does:

- policy config: schema defaults, then the pack's initial config, then the file (its ``all`` entry
  first, then per-policy entries); each policy's properties validated against its JSON schema
  (draft 7), errors raised as :class:`PolicyConfigError`;
- levels: the config's level, else the policy's, else the pack's default; disabled policies are
  skipped; a remediate-level policy that still finds a violation after remediation reports it as
  mandatory (the servicer does this itself);
- values: unknown values (the engine's sentinel ``04da6b54-...``) are passed through, so a rule
  touching one yields the analyzer's advisory "can't be known during preview" diagnostic; secrets
  as ``pulumi stack export`` writes them (ciphertext only) are opaque and sent as unknown values.

Speed (10,000 resources of a real stack in about 3 s, linear): resources are routed to a servicer
holding only the policies whose ``applies_to`` accepts their type, and the stack servicer gets only
the types its policies read (each policy also checks types itself, so the verdict equals sending
everything, which a test asserts); within one servicer call the servicer's per-policy conversion
of the same properties is done once (:class:`_SharedConversions`); the garbage collector is paused
during an evaluation. The module-level patching makes an evaluation single-threaded: do not run
two evaluations concurrently in threads of one process.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterable, Mapping, Sequence
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
from pulumi_policy.policy import _PolicyAnalyzerServicer

from policies.guardrails import Guardrail, ResourceGuardrail, StackGuardrail
from policies.pack import DEFAULT_ENFORCEMENT_LEVEL, PACK_NAME, all_policies, pack_version

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


def _json_text(properties: Mapping[str, Any] | None) -> str:
    """Properties as JSON, with engine signatures made readable first (see :func:`_opaque`)."""
    if not properties:
        return "{}"
    try:
        text = json.dumps(properties, allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_opaque(properties))
    return json.dumps(_opaque(properties)) if SIGNATURE_KEY in text else text


def _struct(properties: Mapping[str, Any] | None) -> struct_pb2.Struct:
    return _struct_from_text(_json_text(properties))


def _struct_from_text(text: str) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(json.loads(text))
    return struct


def _decoded(text: str) -> Any:
    """What ``MessageToDict`` returns for the Struct built from ``text``: numbers are doubles."""
    return json.loads(text, parse_int=float)


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
        """A resource as ``offline.mock_engine`` records it (``RecordedResource``)."""
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
    """Resources of an ``offline.mock_engine.PlanResult`` (or any iterable of RecordedResource)."""
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


#: The names ``pulumi_policy.policy`` converts request properties with.
_CONVERSIONS: Final = ("json_format", "deserialize_properties", "unknown_checking_proxy")


class _SharedConversions:
    """Within one servicer call, convert each properties message to Python once, not once per policy.

    ``Analyze`` (and ``AnalyzeStack``) run ``MessageToDict``, ``deserialize_properties`` and
    ``unknown_checking_proxy`` on the same message for every policy. Those are pure functions of
    the message, so for the duration of one call their results are memoised by object identity
    (upb hands out the same wrapper object for the same sub-message, and the request keeps every
    object alive, so identities cannot be reused). The servicer's own logic is untouched; the
    policies share one read-only view of the properties, as remediations already do inside
    ``Remediate``. Policies must therefore not write to ``args.props`` (none of this pack does).
    """

    def __init__(self, texts: Mapping[int, tuple[Any, str]] | None = None) -> None:
        self._memo: dict[tuple[str, int], tuple[Any, Any]] = {}
        self._saved: dict[str, Any] = {}
        self._texts = texts or {}

    def _message_to_dict(self, message: Any, *rest: Any) -> Any:
        """``MessageToDict``; for a Struct the runner built from JSON, decoded from that JSON.

        Both give the same value (a Struct holds JSON with every number a double); decoding the
        JSON runs in C instead of walking the message in Python.
        """
        known = self._texts.get(id(message))
        if not rest and known is not None and known[0] is message:
            return _decoded(known[1])
        return json_format.MessageToDict(message, *rest)

    def _memoised(self, kind: str, function: Any) -> Any:
        def call(argument: Any, *rest: Any) -> Any:
            if rest:
                return function(argument, *rest)
            key = (kind, id(argument))
            hit = self._memo.get(key)
            if hit is not None and hit[0] is argument:
                return hit[1]
            result = function(argument)
            self._memo[key] = (argument, result)
            return result

        return call

    def __enter__(self) -> _SharedConversions:
        self._saved = {name: getattr(policy_module, name) for name in _CONVERSIONS}
        replacements = {
            "json_format": SimpleNamespace(MessageToDict=self._memoised("dict", self._message_to_dict)),
            "deserialize_properties": self._memoised("deserialized", self._saved["deserialize_properties"]),
            "unknown_checking_proxy": self._memoised("proxy", self._saved["unknown_checking_proxy"]),
        }
        for name, replacement in replacements.items():
            setattr(policy_module, name, replacement)
        return self

    def __exit__(self, *_: object) -> None:
        for name, value in self._saved.items():
            setattr(policy_module, name, value)
        self._memo.clear()


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
        self._stack_servicer = self._configured(self._stack_policies) if self._stack_policies else None
        self._by_type: dict[str, tuple[_PolicyAnalyzerServicer, bool] | None] = {}
        self._by_policies: dict[tuple[str, ...], _PolicyAnalyzerServicer] = {}

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
        dicts and proxies (none of them in cycles), and each full collection would rescan them all,
        which makes a big export quadratic instead of linear.
        """
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._evaluate(resources)
        finally:
            if collecting:
                gc.enable()

    def _evaluate(self, resources: Iterable[Mapping[str, Any] | EngineResource | Any]) -> PolicyReport:
        normalised = [_normalise(r) for r in resources]
        by_urn = {r.urn: r for r in normalised}
        providers: dict[str, analyzer_pb2.AnalyzerProviderResource | None] = {}

        def provider_of(resource: EngineResource) -> analyzer_pb2.AnalyzerProviderResource | None:
            if not resource.provider:
                return None
            urn = _provider_urn(resource.provider)
            if urn not in providers:
                found = by_urn.get(urn)
                providers[urn] = None if found is None else analyzer_pb2.AnalyzerProviderResource(
                    type=found.type, properties=_struct(found.inputs or found.outputs), urn=found.urn, name=found.name
                )
            return providers[urn]

        violations: list[Violation] = []
        remediations: list[Remediation] = []
        remediated: dict[str, struct_pb2.Struct] = {}
        analyzed: dict[str, tuple[struct_pb2.Struct, str]] = {}
        checked = 0
        for resource in normalised:
            if resource.type == STACK_TYPE or resource.type.startswith(PROVIDER_PREFIX):
                continue
            checked += 1
            route = self._for_type(resource.type)
            if route is None:
                continue
            servicer, remediates = route
            text = _json_text(resource.inputs)
            request = analyzer_pb2.AnalyzeRequest(
                type=resource.type, properties=_struct_from_text(text), urn=resource.urn, name=resource.name,
                options=resource.options(),
            )
            analyzed[resource.urn] = (request.properties, text)
            provider = provider_of(resource)
            if provider is not None:
                request.provider.CopyFrom(provider)
            if remediates:
                with _SharedConversions({id(request.properties): (request.properties, text)}):
                    self._remediate(servicer, request, resource, remediations, remediated)
            texts = {} if resource.urn in remediated else {id(request.properties): (request.properties, text)}
            with _SharedConversions(texts):
                response = servicer.Analyze(request, None)  # type: ignore[no-untyped-call]
            violations += [self._violation(d, resource.urn, resource.type) for d in response.diagnostics]
        violations += self._analyze_stack(normalised, provider_of, remediated, analyzed)
        return PolicyReport(violations, remediations, {n: r.level for n, r in self.resolved.items()},
                            list(self.warnings), checked, self.remediation_steps)

    def _remediate(
        self,
        servicer: _PolicyAnalyzerServicer,
        request: analyzer_pb2.AnalyzeRequest,
        resource: EngineResource,
        remediations: list[Remediation],
        remediated: dict[str, struct_pb2.Struct],
    ) -> None:
        """The CLI's remediation step: apply each remediation in order, then analyze the result."""
        response = servicer.Remediate(request, None)  # type: ignore[no-untyped-call]
        before = json_format.MessageToDict(request.properties)
        for item in response.remediations:
            if item.HasField("properties") and item.properties.fields:
                after = json_format.MessageToDict(item.properties)
                remediations.append(Remediation(item.policyName, resource.urn, tuple(_changes(before, after))))
                request.properties.CopyFrom(item.properties)
                remediated[resource.urn] = request.properties
                before = after
            elif item.diagnostic:
                remediations.append(Remediation(item.policyName, resource.urn, (), item.diagnostic))

    def _analyze_stack(self, resources: Sequence[EngineResource], provider_of: Any,
                       remediated: Mapping[str, struct_pb2.Struct],
                       analyzed: Mapping[str, tuple[struct_pb2.Struct, str]]) -> list[Violation]:
        """One AnalyzeStack call with the resources of the types the stack policies read."""
        if self._stack_servicer is None:
            return []
        request = analyzer_pb2.AnalyzeStackRequest()
        types: dict[str, str] = {}
        sources: list[str | None] = []
        for resource in resources:
            if any(policy.applies_to(resource.type) for policy in self._stack_policies):
                item, text = self._stack_resource(resource, provider_of, remediated, analyzed)
                request.resources.append(item)
                sources.append(text)
                types[resource.urn] = resource.type
        texts = {
            id(item.properties): (item.properties, text)
            for item, text in zip(request.resources, sources, strict=True)
            if text is not None
        }
        with _SharedConversions(texts):
            response = self._stack_servicer.AnalyzeStack(request, None)  # type: ignore[no-untyped-call]
        return [self._violation(d, d.urn, types.get(d.urn, "")) for d in response.diagnostics]

    @staticmethod
    def _stack_resource(
        resource: EngineResource, provider_of: Any, remediated: Mapping[str, struct_pb2.Struct],
        analyzed: Mapping[str, tuple[struct_pb2.Struct, str]],
    ) -> tuple[analyzer_pb2.AnalyzerResource, str | None]:
        """A resource as AnalyzeStack sees it (its outputs, the stack's state, else its inputs), and its JSON."""
        text: str | None
        if resource.urn in remediated:
            properties, text = remediated[resource.urn], None
        elif resource.urn in analyzed and (not resource.outputs or resource.outputs == resource.inputs):
            properties, text = analyzed[resource.urn]
        else:
            text = _json_text(resource.outputs or resource.inputs)
            properties = _struct_from_text(text)
        item = analyzer_pb2.AnalyzerResource(
            type=resource.type, properties=properties, urn=resource.urn, name=resource.name,
            options=resource.options(), parent=resource.parent, dependencies=resource.dependencies,
        )
        for key, urns in resource.property_dependencies.items():
            item.propertyDependencies[key].urns.extend(urns)
        provider = provider_of(resource)
        if provider is not None:
            item.provider.CopyFrom(provider)
        return item, text


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
    ``offline.mock_engine.RecordedResource`` objects. ``policy_config``: the parsed content of a
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
    """Evaluate an ``offline.mock_engine.PlanResult``."""
    return evaluate(resources_from_plan(plan), policy_config)


def environment_config_path(environment: str) -> Path:
    """``policies/config/<environment>.json``."""
    return Path(__file__).resolve().parent.parent / "policies" / "config" / f"{environment}.json"


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
