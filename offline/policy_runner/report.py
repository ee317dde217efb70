"""The outcome of an evaluation: violations, remediations, and the report as text."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ack_alluxio_training.policies.pack import PACK_NAME, pack_version


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


def changed_paths(before: Any, after: Any, path: str = "") -> list[str]:
    """Paths whose values differ, for the remediation report."""
    if isinstance(before, Mapping) and isinstance(after, Mapping):
        found: list[str] = []
        for key in sorted(set(before) | set(after), key=str):
            found += changed_paths(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return found
    if before != after:
        return [f"{path}: {json.dumps(before)} -> {json.dumps(after)}"]
    return []
