"""Evaluating the pack on resources, in the order the CLI does it.

Per resource the engine analyzes (not the stack itself, not providers): ``Remediate`` when a policy
at the remediate level reads its type (the remediated properties replace the inputs from then on),
then ``Analyze``; then ``AnalyzeStack`` over the resources. A resource goes only to the policies
whose ``applies_to`` accepts its type, and each stack policy reads only its types; every policy also
checks types itself, so this is the verdict of sending everything (the parity test compares it with
the pack served over gRPC, which is sent everything).

The calls go through :mod:`.direct` (the fast path) when the installed pulumi-policy is one it was
verified against, else through the servicer as it is (:mod:`.servicer`). The cyclic garbage
collector is paused during an evaluation: it allocates millions of small objects, none in cycles,
and each full collection would rescan them all.

An evaluation is single-threaded and holds no global state beyond the configured runner, so
runners may be used from several threads, one evaluation per runner at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy.policy import _PolicyAnalyzerServicer

from ack_alluxio_training.offline.policy_runner import direct
from ack_alluxio_training.offline.policy_runner.config import (
    PROTO_TO_LEVEL,
    PROTO_TO_SEVERITY,
    SERVED_PACK_VERSION,
    configure_request,
    load_policy_config,
    pack_info,
    resolve_policy_config,
    servicer_holding,
)
from ack_alluxio_training.offline.policy_runner.engine_values import as_doubles, json_text
from ack_alluxio_training.offline.policy_runner.report import PolicyReport, Remediation, Violation, changed_paths
from ack_alluxio_training.offline.policy_runner.resources import (
    EngineResource,
    collector_paused,
    load_export,
    normalised,
    provider_urn,
    resources_from_export,
    resources_from_plan,
)
from ack_alluxio_training.offline.policy_runner.servicer import ServicerAnalysis, ServicerRequests
from ack_alluxio_training.policies.guardrails import ResourceGuardrail, StackGuardrail
from ack_alluxio_training.policies.pack import PACK_DIR, PACK_NAME, all_policies

#: Policies of one resource type, and whether any of them remediates.
_Route = tuple[tuple[ResourceGuardrail, ...], bool]


class PolicyRunner:
    """The pack, configured once, ready to evaluate any number of resource lists.

    ``fast``: use the fast path (:mod:`.direct`); None decides from the installed pulumi-policy
    (:func:`.direct.fast_path_available`, which says once on stderr when it is refused).
    """

    def __init__(self, policy_config: Mapping[str, Any] | None = None, *, fast: bool | None = None) -> None:
        infos = pack_info()
        self.infos = {info.name: info for info in infos}
        self.resolved, self.warnings = resolve_policy_config(policy_config, infos)
        self.levels = {name: resolved.level for name, resolved in self.resolved.items()}
        self.fast = direct.fast_path_available() if fast is None else fast
        self.configure_request = configure_request(self.resolved)
        self._configs = direct.policy_configs(self.configure_request)
        enabled = [p for p in all_policies() if self.levels[p.name] != "disabled"]
        self._resource_policies = [p for p in enabled if isinstance(p, ResourceGuardrail)]
        self._stack_policies = [p for p in enabled if isinstance(p, StackGuardrail)]
        self._routes: dict[str, _Route | None] = {}
        self._stack_readers: dict[str, tuple[int, ...]] = {}
        self._servicers: dict[tuple[str, ...], _PolicyAnalyzerServicer] = {}
        self._pack_label = f"{PACK_NAME}@v{SERVED_PACK_VERSION}"

    @cached_property
    def remediation_steps(self) -> dict[str, str]:
        return {name: info.remediation_steps for name, info in self.infos.items()}

    # --- routing --------------------------------------------------------------------------------

    def _route(self, resource_type: str) -> _Route | None:
        """The (enabled) resource policies reading this type, and whether any remediates."""
        if resource_type not in self._routes:
            chosen = tuple(p for p in self._resource_policies if p.applies_to(resource_type))
            remediates = any(self.levels[p.name] == "remediate" for p in chosen)
            self._routes[resource_type] = (chosen, remediates) if chosen else None
        return self._routes[resource_type]

    def _readers(self, resource_type: str) -> tuple[int, ...]:
        """Which stack policies (by position) read this type."""
        readers = self._stack_readers.get(resource_type)
        if readers is None:
            readers = tuple(i for i, p in enumerate(self._stack_policies) if p.applies_to(resource_type))
            self._stack_readers[resource_type] = readers
        return readers

    def _servicer(self, policies: Sequence[ResourceGuardrail | StackGuardrail]) -> _PolicyAnalyzerServicer:
        """pulumi-policy's servicer holding these policies, configured as the CLI configures it."""
        key = tuple(p.name for p in policies)
        servicer = self._servicers.get(key)
        if servicer is None:
            servicer = self._servicers[key] = servicer_holding(list(policies))
            servicer.Configure(self.configure_request, None)  # type: ignore[no-untyped-call]
        return servicer

    # --- diagnostics ------------------------------------------------------------------------------

    def _describe(self, policy: str, urn: str, resource_type: str | None, level: str, message: str,
                  types: Mapping[str, str] | None = None) -> Violation:
        info = self.infos.get(policy)
        return Violation(
            policy=policy, urn=urn,
            resource_type=resource_type if resource_type is not None else (types or {}).get(urn, ""),
            level=level, severity=info.severity if info else "unspecified",
            message=message, description=info.description if info else "",
        )

    def from_diagnostic(self, diagnostic: Any, urn: str, resource_type: str | None,
                        types: Mapping[str, str]) -> Violation:
        """A servicer diagnostic as a Violation (``resource_type`` None: looked up in ``types``)."""
        description = diagnostic.description
        message = diagnostic.message
        if message.startswith(description):
            message = message[len(description):].lstrip("\n")
        violation = self._describe(diagnostic.policyName, diagnostic.urn or urn, resource_type,
                                   PROTO_TO_LEVEL[diagnostic.enforcementLevel], message or description, types)
        severity = PROTO_TO_SEVERITY.get(diagnostic.severity)
        if severity and severity != violation.severity:
            violation = Violation(violation.policy, violation.urn, violation.resource_type, violation.level,
                                  severity, violation.message, violation.description)
        return violation

    # --- evaluation ---------------------------------------------------------------------------------

    def evaluate(self, resources: Iterable[Mapping[str, Any] | EngineResource | Any]) -> PolicyReport:
        """Remediate and analyze every resource, then the stack; see :func:`evaluate`."""
        with collector_paused():
            return self._evaluate([normalised(r) for r in resources])

    def _evaluate(self, items: list[EngineResource]) -> PolicyReport:
        by_urn = {r.urn: r for r in items}

        def provider_of(resource: EngineResource) -> EngineResource | None:
            return by_urn.get(provider_urn(resource.provider)) if resource.provider else None

        types = {r.urn: r.type for r in items}
        requests = ServicerRequests(provider_of)
        analysis: direct.DirectAnalysis | ServicerAnalysis
        if self.fast:
            analysis = direct.DirectAnalysis(
                self.levels, self._configs,
                lambda policy, urn, kind, level, message: self._describe(policy, urn, kind, level, message, types),
                self._pack_label, provider_of,
            )
        else:
            analysis = ServicerAnalysis(
                self._servicer, lambda policy: self._servicer([policy]), requests,
                lambda diagnostic, urn, kind: self.from_diagnostic(diagnostic, urn, kind, types),
            )
        violations: list[Violation] = []
        remediations: list[Remediation] = []
        remediated: dict[str, struct_pb2.Struct] = {}
        stack_resources: list[EngineResource] = []
        positions: list[list[int]] = [[] for _ in self._stack_policies]
        checked = 0
        for resource in items:
            if not resource.analyzed:
                continue
            checked += 1
            route = self._route(resource.type)
            readers = self._readers(resource.type)
            if route is not None:
                policies, remediates = route
                if remediates:
                    self._remediate(resource, policies, requests, remediations, remediated)
                violations += analysis.analyze(resource, policies, remediated.get(resource.urn), bool(readers))
            if readers:
                for reader in readers:
                    positions[reader].append(len(stack_resources))
                stack_resources.append(resource)
        readers_with_resources = list(zip(self._stack_policies, positions, strict=True))
        violations += analysis.analyze_stack(readers_with_resources, stack_resources, remediated)
        return PolicyReport(violations, remediations, dict(self.levels), list(self.warnings), checked,
                            self.remediation_steps)

    def _remediate(
        self,
        resource: EngineResource,
        policies: Sequence[ResourceGuardrail],
        requests: ServicerRequests,
        remediations: list[Remediation],
        remediated: dict[str, struct_pb2.Struct],
    ) -> None:
        """The CLI's remediation step: apply each remediation in order; the result is then analyzed."""
        response = self._servicer(policies).Remediate(requests.analyze(resource), None)  # type: ignore[no-untyped-call]
        before = as_doubles(json_text(resource.inputs))
        for item in response.remediations:
            if item.HasField("properties") and item.properties.fields:
                after = json_format.MessageToDict(item.properties)
                remediations.append(Remediation(item.policyName, resource.urn, tuple(changed_paths(before, after))))
                remediated[resource.urn] = item.properties
                before = after
            elif item.diagnostic:
                remediations.append(Remediation(item.policyName, resource.urn, (), item.diagnostic))


_RUNNERS: dict[tuple[str, bool | None], PolicyRunner] = {}


def runner_for(policy_config: Mapping[str, Any] | None = None, *, fast: bool | None = None) -> PolicyRunner:
    """A configured runner, reused for equal configs (building one runs the config validation)."""
    key = (json.dumps(policy_config, sort_keys=True, default=str), fast)
    if key not in _RUNNERS:
        _RUNNERS[key] = PolicyRunner(policy_config, fast=fast)
    return _RUNNERS[key]


def evaluate(
    resources: Iterable[Mapping[str, Any] | EngineResource | Any],
    policy_config: Mapping[str, Any] | None = None,
    *,
    fast: bool | None = None,
) -> PolicyReport:
    """Evaluate the policy pack on resources, as ``pulumi preview --policy-pack`` would.

    ``resources``: export-shaped dicts ``{type, urn, inputs, outputs?, parent?, provider?, protect?,
    dependencies?}`` (``name`` defaults to the URN's last part), :class:`EngineResource` objects, or
    ``ack_alluxio_training.offline.mock_engine.RecordedResource`` objects. ``policy_config``: the parsed
    content of a ``--policy-pack-config`` file, or None for the pack's defaults. ``fast``: see
    :class:`PolicyRunner`. Raises :class:`PolicyConfigError` for a config the CLI would refuse and
    :class:`ExportError` for malformed resources.
    """
    return runner_for(policy_config, fast=fast).evaluate(resources)


def evaluate_export(
    export: Mapping[str, Any] | Sequence[Any] | str | Path,
    policy_config: Mapping[str, Any] | str | Path | None = None,
    *,
    fast: bool | None = None,
) -> PolicyReport:
    """Evaluate a ``pulumi stack export`` document (or the path of one) with a policy config
    (the parsed document, the path of a ``--policy-pack-config`` file, or None for the defaults)."""
    resources = load_export(export) if isinstance(export, (str, Path)) else resources_from_export(export)
    config = load_policy_config(policy_config) if isinstance(policy_config, (str, Path)) else policy_config
    return evaluate(resources, config, fast=fast)


def evaluate_plan(
    plan: Any, policy_config: Mapping[str, Any] | None = None, *, fast: bool | None = None,
) -> PolicyReport:
    """Evaluate an ``ack_alluxio_training.offline.mock_engine.PlanResult``."""
    return evaluate(resources_from_plan(plan), policy_config, fast=fast)


def environment_config_path(environment: str) -> Path:
    """``policies/config/<environment>.json``, shipped inside the installed policy package."""
    return PACK_DIR / "config" / f"{environment}.json"
