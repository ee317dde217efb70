"""Run the Pulumi program in-process under pulumi's own mock engine and record every resource.

One engine serves ``make plan``, ``make check-export``'s fixtures and the tests. It uses the SDK's
``set_mocks`` with a recording ``MockMonitor`` subclass, so the program, the components and the
real provider SDKs run unmodified; only the provider plugins (which would call Alibaba Cloud and
Kubernetes) are replaced by :class:`PlatformMocks`, whose outputs look like real ones (ids,
kubeconfig, access key ids) so that dependents resolve.
"""

from __future__ import annotations

import asyncio
import hashlib
import runpy
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from ack_alluxio_training import instance_lookup, instance_types
from ack_alluxio_training.offline.canonical_order import dependency_order, sorted_keys
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT, StackConfig
from ack_alluxio_training.settings import PROJECT

#: The marker the engine uses for a secret value inside a serialized property map.
SECRET_SIG: Final = "4dabf18193072939515e22adb298388d"
SECRET_VALUE: Final = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN_VALUE: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
PROGRAM: Final = PROJECT_ROOT / "__main__.py"


@dataclass
class RecordedResource:
    """One resource as the engine saw its registration."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    dependencies: list[str]
    ignore_changes: list[str]
    additional_secret_outputs: list[str]
    #: Inputs with secret values still wrapped in the engine's secret marker.
    raw_inputs: dict[str, Any]
    id: str = ""
    outputs: dict[str, Any] = field(default_factory=dict)

    @property
    def inputs(self) -> dict[str, Any]:
        """Inputs with secrets unwrapped: for assertions in tests, never for files or logs."""
        unwrapped: dict[str, Any] = unwrap_secrets(self.raw_inputs)
        return unwrapped

    @property
    def secret_input_paths(self) -> list[str]:
        """Dotted paths of inputs that are secret (``data.accessKeySecret``)."""
        return secret_paths(self.raw_inputs)


def integral_numbers(value: Any) -> Any:
    """Protobuf Structs carry every number as a double; give whole numbers back their int form.

    The real engine writes ``4``, not ``4.0``, into state and exports, and schemas (``replicas:
    integer``) depend on it.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: integral_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [integral_numbers(v) for v in value]
    return value


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(SECRET_SIG) == SECRET_VALUE


def unwrap_secrets(value: Any) -> Any:
    """Replace the engine's secret wrappers with their plain values."""
    if _is_secret(value):
        return unwrap_secrets(value.get("value"))
    if isinstance(value, dict):
        return {k: unwrap_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(v) for v in value]
    return value


def redact_secrets(value: Any) -> Any:
    """Replace secret values with the ciphertext-shaped marker ``pulumi stack export`` writes."""
    if _is_secret(value):
        return {SECRET_SIG: SECRET_VALUE, "ciphertext": "v1:offline-plan:redacted"}
    if isinstance(value, dict):
        return {k: redact_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_secrets(v) for v in value]
    return value


#: What a secret value becomes in files meant for other tools (manifests, Helm values): a plain
#: string, so the file stays valid (a Secret's ``stringData`` or ``data``; it is valid base64 too).
SECRET_PLACEHOLDER: Final = "redacted"


def placeholder_secrets(value: Any) -> Any:
    """Replace each secret's values with :data:`SECRET_PLACEHOLDER`, keeping its shape.

    A secret mapping keeps its keys (the names of a Secret's entries, not credentials) so a
    manifest written from it stays valid; numbers and booleans become 0 and false.
    """
    if _is_secret(value):
        return _placeholder_shape(value.get("value"))
    if isinstance(value, dict):
        return {k: placeholder_secrets(v) for k, v in value.items()}
    if isinstance(value, list):
        return [placeholder_secrets(v) for v in value]
    return value


def _placeholder_shape(value: Any) -> Any:
    if _is_secret(value):
        return _placeholder_shape(value.get("value"))
    if isinstance(value, dict):
        return {k: _placeholder_shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_placeholder_shape(v) for v in value]
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return 0
    return None if value is None else SECRET_PLACEHOLDER


def secret_paths(value: Any, prefix: str = "") -> list[str]:
    """Paths of all secret values inside a property map."""
    if _is_secret(value):
        return [prefix or "."]
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found += secret_paths(item, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += secret_paths(item, f"{prefix}[{index}]")
    return found


def _fake_id(kind: str, name: str, length: int = 16) -> str:
    return kind + hashlib.sha256(name.encode()).hexdigest()[:length]


MOCK_KUBECONFIG: Final = """apiVersion: v1
kind: Config
clusters:
- name: mock-ack
  cluster:
    server: https://mock-ack.invalid:6443
    insecure-skip-tls-verify: true
contexts:
- name: mock-ack
  context: {cluster: mock-ack, user: mock-ack}
current-context: mock-ack
users:
- name: mock-ack
  user: {token: offline-plan-token}
"""


class PlatformMocks(pulumi.runtime.Mocks):
    """Provider stand-ins with realistic outputs (the engine itself stays pulumi's own)."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        state = dict(args.inputs)
        token = args.typ
        if token.startswith("pulumi:providers:"):
            return _fake_id("provider-", args.name, 8), state
        if token == "alicloud:cs/managedKubernetes:ManagedKubernetes":
            cluster_id = _fake_id("c", args.name, 32)
            state.update(
                clusterId=cluster_id, vpcId=_fake_id("vpc-", args.name), securityGroupId=_fake_id("sg-", args.name)
            )
            return cluster_id, state
        if token == "alicloud:cs/nodePool:NodePool":
            pool_id = _fake_id("np", args.name, 32)
            state.update(nodePoolId=pool_id)
            return f"{state.get('clusterId', 'c')}:{pool_id}", state
        if token == "alicloud:ram/accessKey:AccessKey":
            key_id = "LTAI5t" + hashlib.sha256(args.name.encode()).hexdigest()[:18].upper()
            state.update(secret="offline" + hashlib.sha256(key_id.encode()).hexdigest()[:23], status="Active")
            return key_id, state
        if token == "alicloud:oss/bucket:Bucket":
            bucket = state.get("bucket") or args.name
            region = "cn-beijing"
            state.update(
                extranetEndpoint=f"oss-{region}.aliyuncs.com",
                intranetEndpoint=f"oss-{region}-internal.aliyuncs.com",
            )
            return str(bucket), state
        if token == "alicloud:ram/user:User":
            return _fake_id("2", args.name, 15), state
        if token == "alicloud:ram/policy:Policy":
            return str(state.get("policyName") or args.name), state
        if token.startswith("kubernetes:helm.sh/v3:Release"):
            state.update(
                status={
                    "status": "deployed",
                    "name": state.get("name") or args.name,
                    "namespace": state.get("namespace", "default"),
                    "version": state.get("version", ""),
                }
            )
            return args.name, state
        if token.startswith("kubernetes:"):
            metadata = dict(state.get("metadata") or {})
            metadata.setdefault("name", args.name)
            metadata.setdefault("uid", _fake_id("", token + args.name, 32))
            state["metadata"] = metadata
            namespace = metadata.get("namespace")
            return (f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])), state
        return _fake_id(args.name + "-", token, 8), state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == "alicloud:cs/getClusterCredential:getClusterCredential":
            cluster_id = args.args.get("clusterId", "c-mock")
            return {
                "clusterId": cluster_id,
                "id": cluster_id,
                "kubeConfig": MOCK_KUBECONFIG,
                "certificateAuthority": {},
            }, []
        if args.token == instance_lookup.INVOKE_TOKEN:
            return _instance_types_answer(str(args.args.get("instanceType") or "")), []
        return {}, []


def _instance_types_answer(instance_type: str) -> dict[str, Any]:
    """``getInstanceTypes`` answered from the built-in table (no row: the type is not offered)."""
    shape = instance_types.shape_of(instance_type)
    if shape is None:
        return {"id": "offline", "ids": [], "instanceTypes": []}
    offered = {
        "id": instance_type,
        "family": f"ecs.{instance_types.family_of(instance_type)}",
        "cpuCoreCount": shape.vcpus,
        "memorySize": shape.memory_gib,
        "gpus": [{"amount": str(shape.gpus), "category": shape.gpu_model}],
    }
    return {"id": "offline", "ids": [instance_type], "instanceTypes": [offered]}


def secret_output_names(raw_inputs: dict[str, Any], additional_secret_outputs: Iterable[str]) -> set[str]:
    """Outputs the engine returns as secrets: those named in ``additionalSecretOutputs`` and those
    whose input of the same name holds a secret (secrecy follows a value from input to output)."""
    return set(additional_secret_outputs) | {key for key, value in raw_inputs.items() if secret_paths(value)}


def with_secret_outputs(state: dict[str, Any], names: set[str]) -> dict[str, Any]:
    """The outputs with each of ``names`` wrapped in the engine's secret marker."""
    return {
        key: value if key not in names or _is_secret(value) else {SECRET_SIG: SECRET_VALUE, "value": value}
        for key, value in state.items()
    }


def _mark_secret_outputs(outputs: Any, names: set[str]) -> None:
    """Wrap the named fields of a response's output Struct as the engine does, so the program's
    ``Output`` for them is secret too (``Output.is_secret()``), not only the recorded state."""
    for name in sorted(names & set(outputs.fields)):
        plain = json_format.MessageToDict(outputs.fields[name])
        outputs.fields[name].struct_value.Clear()
        outputs.fields[name].struct_value.update({SECRET_SIG: SECRET_VALUE, "value": plain})


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """pulumi's MockMonitor that also keeps each registration's options and raw inputs."""

    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: dict[str, RecordedResource] = {}
        self.component_outputs: dict[str, dict[str, Any]] = {}

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type == "pulumi:pulumi:Stack":
            return response
        # Sorted keys and lists: a Struct map's order and the order of dependencies carry no meaning.
        raw = sorted_keys(integral_numbers(json_format.MessageToDict(request.object, preserving_proto_field_name=True)))
        hidden = secret_output_names(raw, request.additionalSecretOutputs)
        _mark_secret_outputs(response.object, hidden)
        registration = self.resources.get(response.urn)
        self.recorded[response.urn] = RecordedResource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            parent=request.parent,
            provider=request.provider,
            protect=bool(request.protect),
            retain_on_delete=bool(request.retainOnDelete),
            delete_before_replace=bool(request.deleteBeforeReplace),
            dependencies=sorted(request.dependencies),
            ignore_changes=list(request.ignoreChanges),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            raw_inputs=raw,
            id=response.id,
            outputs=sorted_keys(with_secret_outputs(dict(registration.state), hidden)) if registration else {},
        )
        return response

    def RegisterResourceOutputs(self, request: Any) -> Any:  # noqa: N802 - the gRPC method name
        self.component_outputs[request.urn] = sorted_keys(integral_numbers(json_format.MessageToDict(request.outputs)))
        return super().RegisterResourceOutputs(request)  # type: ignore[no-untyped-call]


@dataclass
class PlanResult:
    """What one run of the program registered."""

    stack: str
    resources: list[RecordedResource]
    #: Stack outputs with secret values wrapped in the engine's secret marker.
    outputs: dict[str, Any]
    #: The program's project name (its Pulumi.yaml ``name``): URNs and the export carry it.
    project: str = PROJECT

    def by_type(self, token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == token]

    def named(self, name: str) -> RecordedResource:
        matches = [r for r in self.resources if r.name == name]
        if len(matches) != 1:
            raise KeyError(f"{len(matches)} resources named {name!r}")
        return matches[0]


def _reset_runtime() -> None:
    runtime_settings.SETTINGS.outputs.clear()
    runtime_settings.SETTINGS.rpc_manager.clear()
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]


async def _stack_outputs() -> dict[str, Any]:
    root = pulumi.runtime.settings.get_root_resource()
    outputs: dict[str, Any] = {}
    for key, value in dict(getattr(root, "outputs", {}) or {}).items():
        output = pulumi.Output.from_input(value)
        resolved = await output.future(with_unknowns=True)
        secret = await output.is_secret()
        outputs[key] = {SECRET_SIG: SECRET_VALUE, "value": resolved} if secret else resolved
    return outputs


@contextmanager
def _program_path(directory: Path) -> Iterator[None]:
    """The program's folder first on ``sys.path`` (as the Pulumi CLI runs it); its modules forgotten after.

    A consumer's own top-level packages (its ``components/``) must win over anything installed,
    and must not leak into the next program run in this process.
    """
    root = str(directory)
    added = root not in sys.path
    before = set(sys.modules)
    if added:
        sys.path.insert(0, root)
    try:
        yield
    finally:
        if added:
            sys.path.remove(root)
            for name in set(sys.modules) - before:
                origin = getattr(sys.modules[name], "__file__", None) or ""
                if origin.startswith(root + "/"):
                    del sys.modules[name]


def run_program(
    config: StackConfig,
    program: Callable[[], None] | None = None,
    *,
    preview: bool = False,
    project: str = PROJECT,
    directory: Path = PROJECT_ROOT,
    mocks: pulumi.runtime.Mocks | None = None,
) -> PlanResult:
    """Run a program (the project's ``__main__.py`` by default) under the mock engine.

    ``project`` and ``directory`` are the program's project name and folder (a consumer's program:
    ``ack_alluxio_training.offline.program``); the folder is first on ``sys.path`` while it runs.
    Exceptions from the program (a :class:`~ack_alluxio_training.settings.SettingsError` first of all)
    propagate unchanged, after the runtime has been cleaned up. ``mocks`` replaces the provider
    stand-ins (tests answering an invoke otherwise than :class:`PlatformMocks`).
    """
    _reset_runtime()
    asyncio.set_event_loop(asyncio.new_event_loop())
    set_all_config(dict(config.values), sorted(config.secret_keys))
    providers = mocks or PlatformMocks()
    monitor = RecordingMonitor(providers)
    pulumi.runtime.set_mocks(providers, project=project, stack=config.stack, preview=preview, monitor=monitor)
    run = program or (lambda: runpy.run_path(str(PROGRAM), run_name="__main__") and None)
    outputs: dict[str, Any] = {}

    async def body() -> None:
        run()
        outputs.update(await _stack_outputs())

    with _program_path(directory):
        _sync_await(run_pulumi_func(lambda: _sync_await(body())))
    # Registration order depends on asyncio scheduling: put the plan in one order (canonical_order).
    resources = dependency_order(monitor.recorded.values())
    return PlanResult(stack=config.stack, resources=resources, outputs=sorted_keys(outputs), project=project)
