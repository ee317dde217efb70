"""End to end: every stack plans offline; plan files are complete and hold no secret."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from ack_alluxio_training.offline.mock_engine import PlanResult, run_program
from ack_alluxio_training.offline.plan import main as plan_main
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT, STACKS_DIR, load_stack_config
from tests.test_settings import BAD_CASES, with_change

BAD_IDS = [case[0] for case in BAD_CASES]

STACKS = ["dev", "staging", "prod"]


@pytest.fixture(scope="module", params=STACKS)
def planned(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path, int]:
    out = tmp_path_factory.mktemp(f"plan-{request.param}")
    code = plan_main(["--stack", request.param, "--out", str(out)])
    return request.param, out, code


def test_stack_plans_without_mandatory_violations(planned: tuple[str, Path, int]) -> None:
    stack, _, code = planned
    assert code == 0, f"make plan STACK={stack} exited {code}"


def test_plan_files_are_written(planned: tuple[str, Path, int]) -> None:
    _, out, _ = planned
    document = json.loads((out / "resources.json").read_text())
    resources = document["deployment"]["resources"]
    assert resources[0]["type"] == "pulumi:pulumi:Stack"
    assert all({"urn", "type", "inputs", "outputs"} <= set(r) for r in resources)
    values = sorted(out.glob("helm-values-*.yaml"))
    assert len(values) == 2, values  # the cache release and the FUSE release
    for path in values:
        assert isinstance(yaml.safe_load(path.read_text()), dict)
    manifests = sorted((out / "manifests").glob("*.yaml"))
    assert manifests
    for path in manifests:
        manifest = yaml.safe_load(path.read_text())
        assert {"apiVersion", "kind"} <= set(manifest)


def test_no_secret_reaches_a_plan_file(planned: tuple[str, Path, int]) -> None:
    stack, out, _ = planned
    result = run_program(load_stack_config(stack))
    secrets = _secret_values(result)
    assert secrets, "the platform has secret inputs (kubeconfig, access keys)"
    for path in out.rglob("*"):
        if path.is_file():
            text = path.read_text()
            for secret in secrets:
                assert secret not in text, f"a secret value leaked into {path.name}"


def _secret_values(result: PlanResult) -> set[str]:
    found: set[str] = set()

    def collect(value: object) -> None:
        if isinstance(value, str) and len(value) >= 8:
            found.add(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    for resource in result.resources:
        for path in resource.secret_input_paths:
            node: object = resource.inputs
            for part in path.replace("[", ".[").split("."):
                node = node[int(part[1:-1])] if part.startswith("[") else node[part]  # type: ignore[index]
            collect(node)
    return found


def test_invalid_config_exits_2_naming_the_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())
    document["config"]["ack-alluxio-training:nodePool"]["imageType"] = "CentOS"
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(document))
    code = plan_main(["--stack", "broken", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    assert code == 2
    error = capsys.readouterr().err
    assert "plan: exit 2" in error and "nodePool.imageType" in error and "'CentOS'" in error
    assert not (tmp_path / "out").exists(), "nothing is written for invalid config"


def test_unknown_stack_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main(["--stack", "nope"]) == 2
    assert "Pulumi.nope.yaml" in capsys.readouterr().err


def test_make_plan_shows_the_wrapped_exit_code(tmp_path: Path) -> None:
    completed = subprocess.run(
        ["make", "--no-print-directory", "plan", "STACK=does-not-exist", f"PYTHON={sys.executable}"],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 2
    assert "plan: exit 2" in completed.stderr


@pytest.mark.parametrize(
    ("description", "stack", "key", "path", "value", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_every_bad_config_exits_2_through_make_plan(
    description: str,
    stack: str,
    key: str,
    path: list[Any],
    value: Any,
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    document = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())
    document["config"] = with_change(stack, key, path, value)
    (tmp_path / "Pulumi.bad.yaml").write_text(yaml.safe_dump(document))
    code = plan_main(["--stack", "bad", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    error = capsys.readouterr().err
    assert code == 2, description
    assert expected in error and "plan: exit 2" in error
    assert not (tmp_path / "out").exists()


def test_prod_tree_shows_the_studys_shape() -> None:
    from ack_alluxio_training.offline.plan_tree import render_tree

    tree = render_tree(run_program(load_stack_config("prod")), "ack-alluxio-training-prod")
    assert "4 nodes x ecs.gn6v-c8g1.16xlarge, 8 GPUs each, image AliyunLinux3, cpu manager static" in tree
    assert "bucket acme-prod-imagenet" in tree and "[protected, retain-on-delete]" in tree
    assert "tier MEM 40Gi hostPath" in tree
    assert "entry_timeout=7200,attr_timeout=7200,kernel_cache,ro" in tree
    assert "Launcher x1 Worker x4" in tree
    assert "secret data (redacted)" in tree




def test_written_manifests_validate_strictly(planned: tuple[str, Path, int]) -> None:
    """Every manifest file of the plan, as written: built-in kinds against Kubernetes' schemas
    (kubernetes-validate, strict), operator kinds against their CRDs when the reference is present."""
    import kubernetes_validate

    from tests.crd_schemas import CRDS, CUSTOM_KINDS, crd_validator

    _, out, _ = planned
    for path in sorted((out / "manifests").glob("*.yaml")):
        manifest = yaml.safe_load(path.read_text())
        if manifest["kind"] in CUSTOM_KINDS:
            if not CRDS.is_dir():
                continue
            errors = [e.message for e in crd_validator(CUSTOM_KINDS[manifest["kind"]]).iter_errors(manifest)]
            assert not errors, (path.name, errors)
        else:
            kubernetes_validate.validate(manifest, "1.33", strict=True)


def test_mixed_datasets_expire_with_the_shortest_interval_and_the_plan_says_why(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())
    document["config"]["ack-alluxio-training:datasets"].append(
        {"name": "coco", "bucket": "acme-prod-coco", "sizeGib": 10, "fileCount": 2000, "changeInterval": "24h"})
    (tmp_path / "Pulumi.mixed.yaml").write_text(yaml.safe_dump(document))
    out = tmp_path / "out"
    assert plan_main(["--stack", "mixed", "--stacks-dir", str(tmp_path), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "expires after 1d, the shortest change interval (imagenet 7d, coco 1d)" in printed
    assert "1152 (imagenet) + 2000 (coco) files" in printed
    for path in out.glob("helm-values-*.yaml"):
        assert "alluxio.user.metadata.cache.expiration.time: 1d" in path.read_text(), path.name
        assert "alluxio.user.metadata.cache.max.size: '3468'" in path.read_text(), path.name
