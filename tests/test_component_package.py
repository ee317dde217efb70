"""The component package other languages consume: its schema, its descriptions, its entry point.

The schema is built offline by pulumi's own ``ComponentProvider`` (the analyzer the plugin runs
under the CLI) and compared with the committed snapshot, so any change to the public contract
shows up in review. After an intended change: ``make schema`` and commit the new snapshot.
"""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pulumi
import yaml

import ack_alluxio_training
from ack_alluxio_training import component_package
from ack_alluxio_training.platform import TrainingPlatform
from ack_alluxio_training.policies import pack

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOT = ROOT / "tests" / "snapshots" / "schema.json"


def test_schema_matches_the_committed_snapshot() -> None:
    assert component_package.schema_text() == SNAPSHOT.read_text(), (
        "the component package's public contract changed: review it, then run `make schema` and commit "
        "tests/snapshots/schema.json"
    )


def _properties(schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for token, resource in schema["resources"].items():
        for kind in ("inputProperties", "properties"):
            found += [(f"{token}.{kind}.{name}", spec) for name, spec in resource.get(kind, {}).items()]
    for token, type_def in schema["types"].items():
        found += [(f"{token}.{name}", spec) for name, spec in type_def.get("properties", {}).items()]
    return found


def test_every_component_type_input_and_output_is_described() -> None:
    schema = component_package.schema()
    undescribed = [token for token, r in schema["resources"].items() if not (r.get("description") or "").strip()]
    undescribed += [token for token, t in schema["types"].items() if not (t.get("description") or "").strip()]
    undescribed += [path for path, spec in _properties(schema) if not (spec.get("description") or "").strip()]
    assert undescribed == []


def test_every_public_component_is_served() -> None:
    modules = [m for name, m in sys.modules.items() if name.startswith("ack_alluxio_training.")]
    public = {
        cls
        for module in modules
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, pulumi.ComponentResource) and cls.__module__.startswith("ack_alluxio_training.")
    }
    # TrainingPlatform takes the pydantic settings model: Python only, by design (component_package).
    assert public - {TrainingPlatform} == set(component_package.COMPONENTS)
    tokens = set(component_package.schema()["resources"])
    assert tokens == {f"ack-alluxio-training:index:{c.__name__}" for c in component_package.COMPONENTS}


def test_type_tokens_of_the_classes_are_the_schema_tokens() -> None:
    """A component registers under the token the schema promises (a rename would need an alias)."""
    for component in component_package.COMPONENTS:
        module = sys.modules[component.__module__]
        assert f"ack-alluxio-training:index:{component.__name__}" == module.TYPE_TOKEN


def test_plugin_manifest_and_entry_point() -> None:
    manifest = yaml.safe_load((ROOT / "components" / "PulumiPlugin.yaml").read_text())
    assert manifest["runtime"]["name"] == "python"
    # Started as the CLI starts it: the folder itself. Without the engine address the provider's own
    # argument parser stops, which proves the host was reached with every component importable.
    result = subprocess.run(
        [sys.executable, str(ROOT / "components")], capture_output=True, text=True, cwd="/", timeout=120
    )
    assert result.returncode == 2 and "engine" in result.stderr, result.stderr


def test_one_version_everywhere() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert component_package.package_version() == declared
    assert component_package.schema()["version"] == declared
    assert pack.pack_version() == declared  # PulumiPolicy.yaml
    assert ack_alluxio_training.__version__ == declared


def test_snapshot_is_valid_json() -> None:
    assert json.loads(SNAPSHOT.read_text())["name"] == "ack-alluxio-training"


def test_only_required_args_are_required_inputs() -> None:
    """Optional args stay optional for other languages (the analyzer honours typing.TypedDict only)."""
    from pulumi.provider.experimental.util import camel_case

    resources = component_package.schema()["resources"]
    for component in component_package.COMPONENTS:
        args_type = inspect.get_annotations(component.__init__)["args"]
        required = sorted(camel_case(key) for key in args_type.__required_keys__)
        assert (
            sorted(resources[f"ack-alluxio-training:index:{component.__name__}"].get("requiredInputs", [])) == required
        )


def _as_wire_numbers(value: Any) -> Any:
    """Numbers as they reach a component through the engine: every one a float (protobuf Struct)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {k: _as_wire_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_wire_numbers(v) for v in value]
    return value


def test_inputs_from_another_language_construct_the_tuned_components() -> None:
    """What the plugin does on `construct`: camelCase inputs mapped onto the args, then the class."""
    from pulumi.provider.experimental.analyzer import Analyzer
    from pulumi.provider.experimental.component import ComponentProvider

    from tests.test_components_alone import run_alone

    provider = ComponentProvider(component_package.COMPONENTS, component_package.PACKAGE_NAME)
    definitions = Analyzer(component_package.PACKAGE_NAME).analyze(component_package.COMPONENTS)
    classes = {c.__name__: c for c in component_package.COMPONENTS}
    profile = {"name": "imagenet", "sizeGib": 144, "fileCount": 1152, "changeInterval": "7d"}
    wire = _as_wire_numbers(
        {
            "cache": {
                "datasets": [
                    {
                        "profile": profile,
                        "bucket": "vision",
                        "endpoint": "oss-cn-beijing-internal.aliyuncs.com",
                        "accessKeyId": "id",
                        "accessKeySecret": "secret",
                    }
                ],
                "cacheNodes": 4,
                "tier": {"quotaPerNode": "40Gi"},
            },
            "fuse": {
                "namespace": "alluxio",
                "masterHostname": "alluxio-master-0.alluxio.svc",
                "datasets": [profile],
                "jobs": [{"readerThreads": 16, "workers": 4, "gpusPerWorker": 8}],
                "gpusPerNode": 8,
                "libfuseVersion": 3,
            },
            "job": {"jobName": "resnet", "workers": 2, "readerThreads": 16},
        }
    )
    components = {"cache": "AlluxioCache", "fuse": "AlluxioFuse", "job": "TrainingJob"}

    def program() -> None:
        for role, class_name in components.items():
            args = provider.map_inputs(wire[role], definitions["component_definitions"][class_name])
            classes[class_name](f"yaml-{role}", args)  # type: ignore[arg-type]

    mocks = run_alone(program)
    releases = {r.name: r.inputs["values"] for r in mocks.of_type("kubernetes:helm.sh/v3:Release")}
    assert "-XX:ActiveProcessorCount=8" in releases["yaml-cache-release"]["worker"]["jvmOptions"]
    assert "max_idle_threads=16" in releases["yaml-fuse-release"]["fuse"]["mountOptions"].split(",")
    (job,) = mocks.of_type("kubernetes:kubeflow.org/v2beta1:MPIJob")
    assert job.inputs["spec"]["mpiReplicaSpecs"]["Worker"]["replicas"] == 2
