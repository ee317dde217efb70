"""The plain path: pulumi-policy's analyzer servicer as it is, sent the requests the CLI sends.

Used when the fast path (:mod:`.direct`) is not verified for the installed pulumi-policy, and
for remediation (rare: only remediate-level policies rewrite properties). Every request carries real
protobuf Structs built from the properties (:func:`.engine_values.struct_of`), so the servicer
converts them exactly as it does under the CLI.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from google.protobuf import struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy.policy import _PolicyAnalyzerServicer

from ack_alluxio_training.offline.policy_runner.engine_values import struct_of
from ack_alluxio_training.offline.policy_runner.report import Violation
from ack_alluxio_training.offline.policy_runner.resources import EngineResource
from ack_alluxio_training.policies.guardrails import ResourceGuardrail, StackGuardrail


class ServicerRequests:
    """The CLI's request messages for one evaluation (each provider's Struct built once)."""

    def __init__(self, provider_of: Callable[[EngineResource], EngineResource | None]) -> None:
        self._provider_of = provider_of
        self._providers: dict[str, analyzer_pb2.AnalyzerProviderResource] = {}

    def provider(self, resource: EngineResource) -> analyzer_pb2.AnalyzerProviderResource | None:
        found = self._provider_of(resource)
        if found is None:
            return None
        message = self._providers.get(found.urn)
        if message is None:
            message = self._providers[found.urn] = analyzer_pb2.AnalyzerProviderResource(
                type=found.type, properties=struct_of(found.inputs or found.outputs), urn=found.urn, name=found.name,
            )
        return message

    def analyze(
        self, resource: EngineResource, properties: struct_pb2.Struct | None = None,
    ) -> analyzer_pb2.AnalyzeRequest:
        """An ``Analyze``/``Remediate`` request: the resource's inputs, or the given (remediated) Struct."""
        request = analyzer_pb2.AnalyzeRequest(
            type=resource.type, urn=resource.urn, name=resource.name, options=resource.options(),
            properties=properties if properties is not None else struct_of(resource.inputs),
        )
        provider = self.provider(resource)
        if provider is not None:
            request.provider.CopyFrom(provider)
        return request

    def stack_resource(
        self, resource: EngineResource, properties: struct_pb2.Struct | None = None,
    ) -> analyzer_pb2.AnalyzerResource:
        """One resource of an ``AnalyzeStack`` request: remediated properties, else outputs, else inputs."""
        item = analyzer_pb2.AnalyzerResource(
            type=resource.type, urn=resource.urn, name=resource.name, parent=resource.parent,
            dependencies=resource.dependencies, options=resource.options(),
            properties=properties if properties is not None else struct_of(resource.stack_properties),
        )
        for key, urns in resource.property_dependencies.items():
            item.propertyDependencies[key].urns.extend(urns)
        provider = self.provider(resource)
        if provider is not None:
            item.provider.CopyFrom(provider)
        return item


#: Turns a servicer diagnostic into a Violation: (diagnostic, the resource's URN, its type or None).
FromDiagnostic = Callable[[Any, str, "str | None"], Violation]


class ServicerAnalysis:
    """One evaluation's ``Analyze`` and ``AnalyzeStack`` calls of the servicer."""

    def __init__(
        self,
        servicer_for: Callable[[Sequence[ResourceGuardrail]], _PolicyAnalyzerServicer],
        stack_servicer_for: Callable[[StackGuardrail], _PolicyAnalyzerServicer],
        requests: ServicerRequests,
        from_diagnostic: FromDiagnostic,
    ) -> None:
        self._servicer_for = servicer_for
        self._stack_servicer_for = stack_servicer_for
        self._requests = requests
        self._from_diagnostic = from_diagnostic

    def analyze(
        self,
        resource: EngineResource,
        policies: Sequence[ResourceGuardrail],
        remediated: struct_pb2.Struct | None,
        stack_reads: bool = False,
    ) -> list[Violation]:
        response = self._servicer_for(policies).Analyze(  # type: ignore[no-untyped-call]
            self._requests.analyze(resource, remediated), None,
        )
        return [self._from_diagnostic(d, resource.urn, resource.type) for d in response.diagnostics]

    def analyze_stack(
        self,
        readers: Sequence[tuple[StackGuardrail, Sequence[int]]],
        resources: Sequence[EngineResource],
        remediated: Mapping[str, struct_pb2.Struct],
    ) -> list[Violation]:
        """One ``AnalyzeStack`` per stack policy with the resources of its types (each policy filters
        its types itself, so the verdict is the one of a single call with everything)."""
        described: dict[int, analyzer_pb2.AnalyzerResource] = {}
        found: list[Violation] = []
        for policy, positions in readers:
            request = analyzer_pb2.AnalyzeStackRequest()
            for position in positions:
                item = described.get(position)
                if item is None:
                    resource = resources[position]
                    item = described[position] = self._requests.stack_resource(resource, remediated.get(resource.urn))
                request.resources.append(item)
            response = self._stack_servicer_for(policy).AnalyzeStack(request, None)  # type: ignore[no-untyped-call]
            found += [self._from_diagnostic(d, d.urn, None) for d in response.diagnostics]
        return found
