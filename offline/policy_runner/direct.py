"""The fast path: the pack's policies called through pulumi-policy's public API, properties converted once.

Why. pulumi-policy's analyzer servicer (what ``PolicyPack`` serves to the CLI) converts a request's
properties for every policy it runs: ``MessageToDict`` of the protobuf Struct, then
``deserialize_properties``, then a proxy over the whole tree (``unknown_checking_proxy``), all in
Python. With some twenty policies per Alluxio release that conversion is most of the time of an
evaluation. Here each resource's properties are converted once and every policy reads the same
view, which also lets the rule views built from it (``policies.inputs.per_resource``) be shared.
Nothing of pulumi-policy is patched: the policies are called as the servicer calls them, with the
public argument classes (``ResourceValidationArgs``, ``StackValidationArgs``, ``PolicyResource``,
``PolicyResourceOptions``, ``PolicyProviderResource``) and the public conversion functions.

Contract: for a pulumi-policy version in :data:`VERIFIED_VERSIONS`, :class:`DirectAnalysis` gives the
diagnostics (policy, URN, level, severity, message) the servicer's ``Analyze`` and ``AnalyzeStack``
give for the same resources and ``Configure`` request:

- properties: the servicer hands a policy ``unknown_checking_proxy(deserialize_properties(
  MessageToDict(struct)))``. Here: the same decoded value (JSON decoded with every number a double,
  engine signatures through ``deserialize_properties``), and pulumi-policy's own
  ``unknown_checking_proxy`` over it when it holds an unknown value; when it holds none the proxy
  could never raise, so the plain value is handed over (:class:`AnalyzerProperties`, a dict).
  Rules must read through the ``Mapping``/``Sequence`` ABCs (``policies.inputs`` does) and must not
  write to ``props``, since the policies share the value (none of this pack writes);
- the loop: each policy of the call that is not disabled runs ``validate(args, report)``; a
  remediate-level policy reports at mandatory; an ``UnknownValueError`` becomes the advisory
  "can't run policy ... during preview" diagnostic; ``not_applicable()`` reports nothing;
- config: the ``Configure`` request's properties (``MessageToDict``, numbers as doubles), a copy per
  call, None when empty; stack tags empty (offline, no ``ConfigureStack`` is sent);
- not reproduced: the servicer applies Pulumi config from the environment before each call; the
  pack's rules read no Pulumi config.

Guard: :func:`unusable_reason` checks the installed version (``importlib.metadata``) and the
signatures of the public names called here; when it gives a reason the runner uses the servicer as
it is (correct, slower) and says so once on stderr. ``tests/test_policy_parity.py`` compares this
path, the plain servicer and the pack served over gRPC on every fixture and stack.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import inspect
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from inspect import isawaitable
from types import MappingProxyType
from typing import Any, Final

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.proto import analyzer_pb2
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from ack_alluxio_training.offline.policy_runner.engine_values import (
    as_doubles,
    holds_signature,
    holds_unknown,
    json_text,
)
from ack_alluxio_training.offline.policy_runner.report import Violation
from ack_alluxio_training.offline.policy_runner.resources import EngineResource
from ack_alluxio_training.policies.guardrails import Guardrail, ResourceGuardrail, StackGuardrail
from ack_alluxio_training.policies.inputs import share_views

#: pulumi-policy releases whose servicer this module was compared with (the parity test).
VERIFIED_VERSIONS: Final = frozenset({"1.21.0"})
DISTRIBUTION: Final = "pulumi-policy"

#: The public constructors called here, with the parameters they are called with, in order.
_SIGNATURES: Final = {
    ResourceValidationArgs: ("resource_type", "props", "urn", "name", "opts", "provider", "config", "stack_tags"),
    StackValidationArgs: ("resources", "config", "stack_tags"),
    PolicyResource: ("resource_type", "props", "urn", "name", "opts", "provider", "parent", "dependencies",
                     "property_dependencies"),
    PolicyResourceOptions: ("protect", "ignore_changes", "delete_before_replace", "aliases", "custom_timeouts",
                            "additional_secret_outputs", "parent"),
    PolicyProviderResource: ("resource_type", "props", "urn", "name"),
    PolicyCustomTimeouts: ("create_seconds", "update_seconds", "delete_seconds"),
}


def installed_version() -> str:
    """The installed pulumi-policy release."""
    return importlib.metadata.version(DISTRIBUTION)


def _parameters(constructor: type) -> tuple[str, ...]:
    return tuple(name for name in inspect.signature(constructor).parameters)


def _not_applicable_error() -> type[BaseException]:
    """The exception ``args.not_applicable()`` raises, learned by calling it (its class is private)."""
    args = ResourceValidationArgs("probe", {}, "urn", "probe", _options(EngineResource("", "", "", {}, {}, "", "",
                                                                                        False)), None)
    try:
        args.not_applicable("probe")
    except Exception as error:  # whatever it raises is what marks "not applicable"
        return type(error)
    raise TypeError("ResourceValidationArgs.not_applicable() raised nothing")


def unusable_reason() -> str | None:
    """Why the fast path must not be used with the installed pulumi-policy, or None when it may."""
    version = installed_version()
    if version not in VERIFIED_VERSIONS:
        verified = ", ".join(sorted(VERIFIED_VERSIONS))
        return f"{DISTRIBUTION} {version} is not a version it was verified against ({verified})"
    for constructor, expected in _SIGNATURES.items():
        if _parameters(constructor) != expected:
            return f"{DISTRIBUTION} {version}: {constructor.__name__}{_parameters(constructor)} is not {expected}"
    try:
        _not_applicable_error()
    except Exception as error:  # the probe itself failing is a reason too
        return f"{DISTRIBUTION} {version}: not_applicable() cannot be recognised ({error})"
    return None


_announced: set[str] = set()


def fast_path_available(announce: Callable[[str], None] | None = None) -> bool:
    """Whether to use this module; the first refusal in a process is announced (stderr by default)."""
    reason = unusable_reason()
    if reason is None:
        return True
    if reason not in _announced:
        _announced.add(reason)
        message = (f"policy runner: {reason}; evaluating through its analyzer servicer as it is "
                   "(same verdicts, slower)")
        (announce or (lambda text: print(text, file=sys.stderr, flush=True)))(message)
    return False


class AnalyzerProperties(dict[str, Any]):
    """A resource's properties as plain data, with room for the rule views built from them.

    A dict (so reading it costs nothing) that takes attributes: ``policies.inputs.per_resource``
    keeps each rule view on the object, so every policy of Analyze and AnalyzeStack reading the
    same properties builds it once.
    """


def analyzer_view(properties: Mapping[str, Any], plain: bool) -> Mapping[str, Any]:
    """What the servicer hands a policy as ``props`` for these properties (see the contract).

    ``plain``: the properties are decoded JSON, numbers as doubles, holding no engine marker; they
    are then handed over as they are (no re-encoding).
    """
    if plain:
        return AnalyzerProperties(properties)
    return view_from_text(json_text(properties))


def view_from_text(text: str) -> Mapping[str, Any]:
    """The view of properties given as the JSON their Struct is built from."""
    value = as_doubles(text)
    if not isinstance(value, dict):
        raise TypeError(f"resource properties must be an object, got {type(value).__name__}")
    if holds_signature(text):
        value = deserialize_properties(value)
    if holds_unknown(text):
        return unknown_checking_proxy(value)
    return AnalyzerProperties(value)


def view_from_struct(struct: struct_pb2.Struct) -> Mapping[str, Any]:
    """The view of a Struct (a remediated resource's properties)."""
    return view_from_text(json.dumps(json_format.MessageToDict(struct)))


def _options(resource: EngineResource) -> PolicyResourceOptions:
    """The options as the servicer reads them from the request (no custom timeouts offline)."""
    return PolicyResourceOptions(
        resource.protect, list(resource.ignore_changes), resource.delete_before_replace, list(resource.aliases),
        PolicyCustomTimeouts(0, 0, 0), list(resource.additional_secret_outputs), resource.parent or None,
    )


def policy_configs(request: analyzer_pb2.ConfigureAnalyzerRequest) -> dict[str, dict[str, Any]]:
    """Each policy's config as the servicer keeps it after ``Configure``."""
    return {name: json_format.MessageToDict(entry.properties) for name, entry in request.policyConfig.items()}


def _run(result: Any) -> None:
    if result is not None and isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


class DirectAnalysis:
    """One evaluation's calls of the policies, each resource's view built once (see the contract)."""

    def __init__(
        self,
        levels: Mapping[str, str],
        configs: Mapping[str, Mapping[str, Any]],
        describe: Callable[[str, str, str | None, str, str], Violation],
        pack_label: str,
        provider_of: Callable[[EngineResource], EngineResource | None],
    ) -> None:
        self._levels = levels
        self._configs = configs
        self._describe = describe
        self._pack_label = pack_label
        self._provider_of = provider_of
        self._providers: dict[str, PolicyProviderResource] = {}
        self._views: dict[int, Mapping[str, Any]] = {}
        self._not_applicable = _not_applicable_error()
        self._stack_tags: Mapping[str, str] = MappingProxyType({})

    def _config(self, name: str) -> Mapping[str, Any] | None:
        config = self._configs.get(name)
        return dict(config) if config else None

    def view(self, properties: Mapping[str, Any], plain: bool, keep: bool = False) -> Mapping[str, Any]:
        """The view of a properties object; ``keep``: remember it for the stack step (which then
        reads it, and the rule views built from it, again instead of building them anew)."""
        key = id(properties)
        view = self._views.get(key)
        if view is None:
            view = analyzer_view(properties, plain)
            if keep:
                self._views[key] = view
        return view

    def _provider(self, resource: EngineResource) -> PolicyProviderResource | None:
        found = self._provider_of(resource)
        if found is None:
            return None
        provider = self._providers.get(found.urn)
        if provider is None:
            props = analyzer_view(found.inputs or found.outputs, found.plain)
            provider = self._providers[found.urn] = PolicyProviderResource(found.type, props, found.urn, found.name)
        return provider

    def _level(self, policy: Guardrail) -> str:
        level = self._levels[policy.name]
        return "mandatory" if level == "remediate" else level

    def _call(self, policy: Guardrail, args: Any, urn: str, resource_type: str | None, found: list[Violation]) -> None:
        level = self._level(policy)
        name, description = policy.name, policy.description

        def report(message: str, at: str | None = None) -> None:
            if message and not isinstance(message, str):
                raise TypeError("Expected message to be a string")
            if at is not None and not isinstance(at, str):
                raise TypeError("Expected urn to be a string")
            found.append(self._describe(name, at or urn, resource_type, level, message or description))

        try:
            _run(policy.validate(args, report))
        except UnknownValueError as error:
            message = f"can't run policy '{name}' from policy pack '{self._pack_label}' during preview: {error.message}"
            found.append(self._describe(name, urn, resource_type, "advisory", message))
        except self._not_applicable:
            pass

    def analyze(
        self,
        resource: EngineResource,
        policies: Sequence[ResourceGuardrail],
        remediated: struct_pb2.Struct | None,
        stack_reads: bool = False,
    ) -> list[Violation]:
        """``Analyze`` of one resource by the given (enabled, resource) policies; ``stack_reads``: a
        stack policy reads it too."""
        keep = stack_reads and resource.stack_properties is resource.inputs
        props = (view_from_struct(remediated) if remediated is not None
                 else self.view(resource.inputs, resource.plain, keep))
        options = _options(resource)
        provider = self._provider(resource)
        found: list[Violation] = []
        for policy in policies:
            if not policy.has_validation():
                continue
            args = ResourceValidationArgs(resource.type, props, resource.urn, resource.name, options, provider,
                                          self._config(policy.name), self._stack_tags)
            self._call(policy, args, resource.urn, resource.type, found)
        if stack_reads and not keep and remediated is None:
            # the stack step reads the state: it gets the views these policies built wherever the
            # state holds what they were built from (share_views checks that), so it builds fewer
            share_views(props, self.view(resource.stack_properties, resource.plain, keep=True))
        return found

    def analyze_stack(
        self,
        readers: Sequence[tuple[StackGuardrail, Sequence[int]]],
        resources: Sequence[EngineResource],
        remediated: Mapping[str, struct_pb2.Struct],
    ) -> list[Violation]:
        """``AnalyzeStack``: each stack policy with the resources (by position) of the types it reads."""
        described: list[PolicyResource] = []
        by_urn: dict[str, PolicyResource] = {}
        for resource in resources:
            fixed = remediated.get(resource.urn)
            props = (view_from_struct(fixed) if fixed is not None
                     else self.view(resource.stack_properties, resource.plain))
            item = PolicyResource(resource.type, props, resource.urn, resource.name, _options(resource),
                                  self._provider(resource), None, [], {})
            described.append(item)
            by_urn[resource.urn] = item
        for resource, item in zip(resources, described, strict=True):
            item.parent = by_urn.get(resource.parent)
            item.dependencies = [by_urn[d] for d in resource.dependencies if d in by_urn]
            item.property_dependencies = {key: [by_urn[d] for d in urns if d in by_urn]
                                          for key, urns in resource.property_dependencies.items()}
        found: list[Violation] = []
        for policy, positions in readers:
            args = StackValidationArgs([described[i] for i in positions], self._config(policy.name),
                                       self._stack_tags)
            self._call(policy, args, "", None, found)
        return found
