"""The two kinds of guardrail the pack is made of, and how a rule says what it applies to.

A guardrail is a plain pulumi-policy policy (the CLI and the offline runner see nothing else) that
additionally states which resource types it reads (``applies_to``) and which tuning rows of
docs/tuning.md it protects (``rows``). The type check happens inside the policy itself, so a rule
behaves the same whether every resource is sent to it (the Pulumi CLI) or only the resources of
its types (the offline runner, which routes by ``applies_to`` to stay linear on big exports).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from ack_alluxio_training.policies.fix_hints import in_users_words

ResourceCheck = Callable[[ResourceValidationArgs, ReportViolation], None]
ResourceFix = Callable[[ResourceValidationArgs], "Mapping[str, Any] | None"]
StackCheck = Callable[[StackValidationArgs, ReportViolation], None]
TypeFilter = Callable[[str], bool]

#: Prefix of the tags that tie a guardrail to a tuning row ("tuning-row-4").
ROW_TAG_PREFIX: Final = "tuning-row-"

#: Config of the row 12 rules (Alluxio and training containers alike).
WHOLE_CORES_CONFIG: Final[dict[str, Any]] = {
    "type": "boolean", "default": True,
    "description": "Require whole cores (node pools with the static CPU manager policy pin only whole cores).",
}


@dataclass(frozen=True)
class ResourceType:
    """A type token split up: ``kubernetes:batch/v1:Job`` -> package, module, kind."""

    package: str
    module: str
    kind: str

    @property
    def group(self) -> str:
        """The Kubernetes API group ("" for the core group), without the version."""
        group = self.module.rsplit("/", 1)[0] if "/" in self.module else self.module
        return "" if group == "core" else group


@lru_cache(maxsize=4096)
def parse_type(token: str) -> ResourceType:
    """Split a Pulumi type token; malformed tokens give empty parts rather than errors."""
    parts = token.split(":")
    if len(parts) != 3:
        return ResourceType(parts[0] if parts else "", "", "")
    return ResourceType(parts[0], parts[1], parts[2])


def exact_types(*tokens: str) -> TypeFilter:
    """Applies to exactly these type tokens."""
    wanted = frozenset(tokens)
    return wanted.__contains__


def kubernetes_kinds(*group_kinds: tuple[str, str]) -> TypeFilter:
    """Applies to Kubernetes resources of these (API group, kind) pairs, in any API version.

    Custom resources registered through ``apiextensions.CustomResource`` carry the same
    ``kubernetes:<group>/<version>:<Kind>`` token as typed ones, so CRDs match too.
    """
    wanted = frozenset(group_kinds)

    def applies(token: str) -> bool:
        parsed = parse_type(token)
        return parsed.package == "kubernetes" and (parsed.group, parsed.kind) in wanted

    return applies


def any_of(*filters: TypeFilter) -> TypeFilter:
    """Applies where any of the filters does."""
    return lambda token: any(f(token) for f in filters)


def row_tags(rows: Iterable[int], *extra: str) -> list[str]:
    """Policy tags naming the tuning rows a guardrail protects, plus free tags."""
    return [f"{ROW_TAG_PREFIX}{row}" for row in rows] + list(extra)


def config_value(args: ResourceValidationArgs | StackValidationArgs, key: str, default: Any) -> Any:
    """A policy config property; the CLI fills schema defaults, the default covers direct calls."""
    value = args.get_config().get(key)
    return default if value is None else value


def _in_users_words(report: ReportViolation, urn: str | None) -> ReportViolation:
    """``report`` adding the stack key that fixes a finding on a resource made from stack config."""

    def reported(message: str, reported_urn: str | None = None) -> None:
        report(in_users_words(message, reported_urn or urn), reported_urn)

    return reported


class ResourceGuardrail(ResourceValidationPolicy):
    """A resource policy that knows the resource types it reads and the tuning rows it guards."""

    applies_to: TypeFilter
    rows: tuple[int, ...]

    def __init__(
        self,
        *,
        name: str,
        description: str,
        severity: Severity,
        enforcement_level: EnforcementLevel,
        remediation_steps: str,
        applies_to: TypeFilter,
        validate: ResourceCheck,
        rows: tuple[int, ...] = (),
        config_schema: PolicyConfigSchema | None = None,
        remediate: ResourceFix | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        self.applies_to = applies_to
        self.rows = rows

        def checked(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if applies_to(args.resource_type):
                validate(args, _in_users_words(report, args.urn))

        fix: ResourceFix | None = None
        if remediate is not None:
            inner_fix = remediate

            def fixed(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
                return inner_fix(args) if applies_to(args.resource_type) else None

            fix = fixed

        super().__init__(
            name,
            description,
            validate=checked,
            enforcement_level=enforcement_level,
            config_schema=config_schema,
            # pulumi-policy types the remediation as async, but its servicer accepts a plain return
            remediate=fix,  # type: ignore[arg-type]
            severity=severity,
            tags=row_tags(rows, *tags),
            remediation_steps=remediation_steps,
        )


class StackGuardrail(StackValidationPolicy):
    """A stack policy that knows the resource types it reads and the tuning rows it guards.

    ``applies_to`` lets the offline runner hand the policy only those resources; the policy must
    therefore never depend on resources of other types.
    """

    applies_to: TypeFilter
    rows: tuple[int, ...]

    def __init__(
        self,
        *,
        name: str,
        description: str,
        severity: Severity,
        enforcement_level: EnforcementLevel,
        remediation_steps: str,
        applies_to: TypeFilter,
        validate: StackCheck,
        rows: tuple[int, ...] = (),
        config_schema: PolicyConfigSchema | None = None,
        tags: Iterable[str] = (),
    ) -> None:
        self.applies_to = applies_to
        self.rows = rows

        def checked(args: StackValidationArgs, report: ReportViolation) -> None:
            relevant = [r for r in args.resources if applies_to(r.resource_type)]
            validate(
                StackValidationArgs(relevant, dict(args.get_config()), args.stack_tags),
                _in_users_words(report, None),
            )

        super().__init__(
            name,
            description,
            validate=checked,
            enforcement_level=enforcement_level,
            config_schema=config_schema,
            severity=severity,
            tags=row_tags(rows, *tags),
            remediation_steps=remediation_steps,
        )


Guardrail = ResourceGuardrail | StackGuardrail
