"""Policy config and levels, resolved the way the Pulumi CLI resolves them.

The pack as the CLI sees it comes from pulumi-policy's own ``GetAnalyzerInfo`` (names, levels,
severities, config schemas, initial config). A ``--policy-pack-config`` document is then merged
in the CLI's order: schema defaults, the pack's initial config, the file's ``all`` entry, then its
per-policy entries; each policy's properties are validated against its JSON schema (draft 7).
Disabled policies are skipped by the evaluation; a remediate-level policy that still finds a
violation after remediation reports it as mandatory.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import jsonschema
from google.protobuf import json_format
from pulumi.runtime import proto
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import Policy
from pulumi_policy.policy import _PolicyAnalyzerServicer

from ack_alluxio_training.policies.guardrails import Guardrail
from ack_alluxio_training.policies.pack import DEFAULT_ENFORCEMENT_LEVEL, PACK_NAME, all_policies
from ack_alluxio_training.policy_config import PolicyConfigFileError, read_policy_config

LEVELS: Final = ("advisory", "mandatory", "remediate", "disabled")
LEVEL_TO_PROTO: Final = {"advisory": proto.ADVISORY, "mandatory": proto.MANDATORY, "remediate": proto.REMEDIATE,
                         "disabled": proto.DISABLED}
PROTO_TO_LEVEL: Final = {value: key for key, value in LEVEL_TO_PROTO.items()}
#: The version ``PolicyPack`` gives the servicer it serves (pulumi-policy writes "0.0.1" there and
#: lets the CLI report PulumiPolicy.yaml's version instead); it appears in the analyzer's own
#: "can't run policy '<name>' from policy pack '<pack>@v<version>'" messages, so it is used here too.
SERVED_PACK_VERSION: Final = "0.0.1"
PROTO_TO_SEVERITY: Final = {
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


def servicer_holding(policies: Sequence[Guardrail]) -> _PolicyAnalyzerServicer:
    """pulumi-policy's analyzer servicer (what ``PolicyPack`` serves) holding these policies."""
    held: list[Policy] = list(policies)
    return _PolicyAnalyzerServicer(PACK_NAME, SERVED_PACK_VERSION, held, DEFAULT_ENFORCEMENT_LEVEL)


def pack_info() -> list[PolicyInfo]:
    """Every policy of the pack, read through the analyzer's own ``GetAnalyzerInfo``."""
    policies = {p.name: p for p in all_policies()}
    info = servicer_holding(list(policies.values())).GetAnalyzerInfo(None, None)  # type: ignore[no-untyped-call]
    described = []
    for item in info.policies:
        schema = json_format.MessageToDict(item.configSchema.properties) if item.HasField("configSchema") else {}
        described.append(
            PolicyInfo(
                name=item.name,
                description=item.description,
                enforcement_level=PROTO_TO_LEVEL[item.enforcementLevel],
                severity=PROTO_TO_SEVERITY.get(item.severity, "unspecified"),
                remediation_steps=item.remediation_steps,
                kind="stack" if item.policy_type == proto.PolicyType.POLICY_TYPE_STACK else "resource",
                config_schema=schema,
                required=tuple(item.configSchema.required),
                rows=policies[item.name].rows,
            )
        )
    return described


def _initial_config() -> dict[str, dict[str, Any]]:
    info = servicer_holding(all_policies()).GetAnalyzerInfo(None, None)  # type: ignore[no-untyped-call]
    initial: dict[str, dict[str, Any]] = {}
    for name, config in info.initialConfig.items():
        entry: dict[str, Any] = dict(json_format.MessageToDict(config.properties))
        entry["enforcementLevel"] = PROTO_TO_LEVEL[config.enforcementLevel]
        initial[name] = entry
    return initial


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
    """Read a policy config JSON file (as given to ``--policy-pack-config``).

    Only a regular file of bounded size is read (``ack_alluxio_training.policy_config``), so a
    directory, ``/dev/zero`` or ``/dev/stdin`` is refused at once instead of hanging.
    """
    try:
        return read_policy_config(Path(path))
    except PolicyConfigFileError as error:
        raise PolicyConfigError([str(error)]) from None


def configure_request(resolved: Mapping[str, ResolvedPolicy]) -> analyzer_pb2.ConfigureAnalyzerRequest:
    """The ``Configure`` request the CLI sends for these resolved policies."""
    request = analyzer_pb2.ConfigureAnalyzerRequest()
    for name, policy in resolved.items():
        entry = request.policyConfig[name]
        entry.enforcementLevel = LEVEL_TO_PROTO[policy.level]
        entry.properties.update(dict(policy.properties))
    return request
