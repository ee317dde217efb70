"""Every example plans offline through the consumer command, with its own project name and config.

The Python examples run through ``plan_program`` (the library call behind ``ack-alluxio-plan
--program DIR --stack NAME``): each is a Pulumi program of its own folder, importing the package by
its distinctive name. The YAML example cannot run offline (the YAML runtime and the plugin need the
CLI), so its resource types and property names are checked against the schema snapshot.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from ack_alluxio_training.offline import plan
from ack_alluxio_training.offline.mock_engine import SECRET_SIG
from ack_alluxio_training.offline.policy_runner import environment_config_path
from ack_alluxio_training.offline.program import ProgramError, load_program

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
SCHEMA = json.loads((ROOT / "tests" / "snapshots" / "schema.json").read_text())
#: example folder -> (stack, shipped policy config environment)
PYTHON_EXAMPLES = {
    "cache-fuse-existing-cluster": ("dev", "prod"),
    "dataset-bucket-only": ("dev", "prod"),
    "research-team-stack": ("staging", "staging"),
}


def planned(example: str, tmp_path: Path) -> plan.ProgramPlan:
    stack, environment = PYTHON_EXAMPLES[example]
    return plan.plan_program(
        EXAMPLES / example, stack, out_dir=tmp_path / example, policy_config=environment_config_path(environment)
    )


def test_every_python_example_is_listed() -> None:
    python = {p.parent.name for p in EXAMPLES.glob("*/Pulumi.yaml") if load_runtime(p) == "python"}
    assert python == set(PYTHON_EXAMPLES)


def load_runtime(path: Path) -> str:
    runtime = yaml.safe_load(path.read_text())["runtime"]
    return str(runtime["name"] if isinstance(runtime, dict) else runtime)


@pytest.mark.parametrize("example", sorted(PYTHON_EXAMPLES))
def test_example_plans_with_its_own_project_and_passes_the_pack(example: str, tmp_path: Path) -> None:
    result = planned(example, tmp_path)
    project = load_program(EXAMPLES / example).project
    assert result.result.project == project
    assert all(f"::{project}::" in r.urn for r in result.result.resources)
    export = json.loads((tmp_path / example / "resources.json").read_text())
    assert export["deployment"]["resources"][0]["urn"].endswith(f"::{project}-{PYTHON_EXAMPLES[example][0]}")
    assert result.report is not None
    assert result.report.passed, result.report.render()


def test_cache_and_fuse_on_an_existing_cluster_are_tuned(tmp_path: Path) -> None:
    result = planned("cache-fuse-existing-cluster", tmp_path).result
    fuse = next(r for r in result.resources if r.name == "vision-fuse-release").inputs["values"]["fuse"]
    assert fuse["env"]["MAX_IDLE_THREADS"] == "16"  # 16 reader threads x 1 worker per 8-GPU node
    # the team's own `components` package did not clash with the platform's
    assert result.outputs["labels"] == {"team": "vision", "cost-center": "ml-vision"}
    # each component reaches the existing cluster through a provider built from the secret kubeconfig
    providers = [r for r in result.resources if r.type == "pulumi:providers:kubernetes"]
    assert len(providers) == 3 and all("kubeconfig" in r.secret_input_paths for r in providers)
    files = {p.name for p in (tmp_path / "cache-fuse-existing-cluster").glob("*.yaml")}
    assert files == {"helm-values-vision-cache-release.yaml", "helm-values-vision-fuse-release.yaml"}


def test_research_team_stack_builds_the_tuned_platform(tmp_path: Path) -> None:
    result = planned("research-team-stack", tmp_path).result
    assert len(result.by_type("kubernetes:helm.sh/v3:Release")) == 2
    assert [j.inputs["kind"] for j in result.by_type("kubernetes:kubeflow.org/v1:PyTorchJob")] == ["PyTorchJob"]
    assert len(result.by_type("alicloud:oss/bucket:Bucket")) == 2
    # FUSE threads follow the job: 32 reader threads x 1 worker per 4-GPU node
    assert result.outputs["fuseMaxIdleThreads"] == 32


def test_dataset_bucket_alone_keeps_its_key_secret(tmp_path: Path) -> None:
    result = planned("dataset-bucket-only", tmp_path).result
    bucket = result.by_type("alicloud:oss/bucket:Bucket")[0]
    assert bucket.protect and bucket.inputs["bucket"] == "vision-laion-subset"
    assert result.outputs["ufsUri"] == "oss://vision-laion-subset/webdataset/"
    assert SECRET_SIG in result.outputs["accessKeyId"]


def test_the_command_line_plans_an_example(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = plan.main(
        [
            "--program",
            str(EXAMPLES / "dataset-bucket-only"),
            "--stack",
            "dev",
            "--environment",
            "prod",
            "--out",
            str(tmp_path),
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "vision-data-dev" in out and "PASSED" in out
    assert (tmp_path / "resources.json").is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--program", "/nonexistent", "--stack", "dev"], "has no Pulumi.yaml"),
        (["--program", str(EXAMPLES / "dataset-bucket-only"), "--stack", "qa"], "no stack config Pulumi.qa.yaml"),
        (["--program", str(EXAMPLES / "yaml-component-package"), "--stack", "dev"], "runtime 'yaml'"),
    ],
)
def test_a_program_that_cannot_be_planned_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert plan.main([*argv, "--no-policy"]) == plan.EXIT_INVALID_CONFIG
    assert message in capsys.readouterr().err


def test_a_refused_component_argument_exits_2_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program = tmp_path / "bad"
    program.mkdir()
    (program / "Pulumi.yaml").write_text("name: bad-cache\nruntime: python\n")
    (program / "Pulumi.dev.yaml").write_text("config: {}\n")
    (program / "__main__.py").write_text(
        "from ack_alluxio_training.alluxio_fuse import AlluxioFuse\n"
        "AlluxioFuse('f', {'namespace': 'alluxio', 'master_hostname': 'm', "
        "'datasets': [{'name': 'd', 'size_gib': 1, 'file_count': 10}], 'entry_timeout_seconds': 5})\n"
    )
    assert plan.main(["--program", str(program), "--stack", "dev", "--out", str(tmp_path / "out")]) == 2
    assert "AlluxioFuse 'f': entryTimeoutSeconds 5 is below" in capsys.readouterr().err


def test_load_program_refuses_a_missing_entry_point(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: empty\nruntime: python\n")
    with pytest.raises(ProgramError, match="no entry point"):
        load_program(tmp_path)


# --- the YAML program consuming the component package -----------------------------------------

REFERENCE = re.compile(r"^\$\{([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?\}$")


def _type_of(spec: dict[str, Any]) -> dict[str, Any] | None:
    ref = spec.get("$ref", "")
    return SCHEMA["types"][ref.removeprefix("#/types/")] if ref.startswith("#/types/") else None


def _check_value(value: Any, spec: dict[str, Any], where: str, variables: dict[str, Any]) -> list[str]:
    """Problems of one YAML value against its schema property (unknown keys, missing required keys)."""
    if isinstance(value, str) and (match := REFERENCE.match(value)) and match.group(1) in variables:
        value = variables[match.group(1)]
    if isinstance(value, list) and spec.get("type") == "array":
        return [
            p for i, item in enumerate(value) for p in _check_value(item, spec["items"], f"{where}[{i}]", variables)
        ]
    type_def = _type_of(spec)
    if isinstance(value, dict) and type_def is not None:
        return _check_object(value, type_def, where, variables)
    return []


def _check_object(value: dict[str, Any], type_def: dict[str, Any], where: str, variables: dict[str, Any]) -> list[str]:
    known = type_def.get("properties") or type_def.get("inputProperties") or {}
    problems = [f"{where}.{key}: not in the schema" for key in value if key not in known]
    problems += [f"{where}.{key}: required" for key in type_def.get("required", []) if key not in value]
    problems += [
        p
        for key, item in value.items()
        if key in known
        for p in _check_value(item, known[key], f"{where}.{key}", variables)
    ]
    return problems


def test_yaml_program_uses_only_types_and_properties_of_the_schema() -> None:
    document = yaml.safe_load((EXAMPLES / "yaml-component-package" / "Pulumi.yaml").read_text())
    assert document["packages"] == {"ack-alluxio-training": "../../components"}
    assert (
        EXAMPLES / "yaml-component-package" / document["packages"]["ack-alluxio-training"] / "PulumiPlugin.yaml"
    ).is_file()
    variables = document.get("variables", {})
    resources = document["resources"]
    problems: list[str] = []
    for name, resource in resources.items():
        schema_resource = SCHEMA["resources"].get(resource["type"])
        if schema_resource is None:
            problems.append(f"{name}: type {resource['type']} is not in the schema")
            continue
        schema_input = {
            "inputProperties": schema_resource["inputProperties"],
            "required": schema_resource.get("requiredInputs", []),
        }
        problems += _check_object(resource.get("properties", {}), schema_input, name, variables)
    # every ${resource.output} names an output the schema declares
    text = (EXAMPLES / "yaml-component-package" / "Pulumi.yaml").read_text()
    for resource, output in re.findall(r"\$\{([A-Za-z0-9_]+)\.([A-Za-z0-9_]+)\}", text):
        outputs = SCHEMA["resources"][resources[resource]["type"]]["properties"]
        if output not in outputs:
            problems.append(f"${{{resource}.{output}}}: not an output of {resources[resource]['type']}")
    assert problems == []
