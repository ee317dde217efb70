"""End to end: the real stacks pass the pack; misconfigured stacks fail with the right rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml

from ack_alluxio_training.offline.mock_engine import run_program
from ack_alluxio_training.offline.plan import main as plan_main
from ack_alluxio_training.offline.policy_runner import environment_config_path, evaluate_plan, load_policy_config
from ack_alluxio_training.offline.stack_config import STACKS_DIR, config_from_mapping, load_stack_config

PROD_POLICY = load_policy_config(environment_config_path("prod"))


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_passes_even_the_prod_levels(stack: str) -> None:
    report = evaluate_plan(run_program(load_stack_config(stack)), PROD_POLICY)
    mandatory = [v for v in report.violations if v.level == "mandatory" and v.policy != "oss-bucket-protected"]
    assert not mandatory, report.render()
    assert report.resources_checked > 15


def test_a_cache_too_small_for_the_dataset_fails_the_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())
    document["config"]["ack-alluxio-training:cache"]["quotaPerNode"] = "20Gi"  # 4 x 20 GiB < 144 GiB
    (tmp_path / "Pulumi.small-cache.yaml").write_text(yaml.safe_dump(document))
    code = plan_main(["--stack", "small-cache", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 1
    assert "alluxio-cache-holds-dataset" in captured.out
    assert "plan: exit 1" in captured.err


UNTUNED_VALUES = {
    "fuse": {"enabled": True},
    "tieredstore": {"levels": [{"level": 0, "alias": "MEM", "mediumtype": "MEM", "path": "/dev/shm",
                                "type": "emptyDir", "quota": "1Gi"}]},
    "shortCircuit": {"enabled": True, "policy": "uuid"},
    "properties": {"alluxio.user.file.readtype.default": "CACHE_PROMOTE"},
}


def _foreign_program() -> None:
    """A team's own stack: the chart with its defaults and a training Job, no components of ours."""
    provider = k8s.Provider("theirs", kubeconfig="apiVersion: v1")
    on_cluster = pulumi.ResourceOptions(provider=provider)
    k8s.helm.v3.Release(
        "alluxio",
        chart="alluxio-charts/alluxio",
        version="0.6.53",
        namespace="data",
        values=copy.deepcopy(UNTUNED_VALUES),
        opts=on_cluster,
    )
    job_spec: Any = {
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {"name": "train", "image": "tf:latest", "resources": {"limits": {"nvidia.com/gpu": "8"}}}
                ],
            }
        }
    }
    k8s.batch.v1.Job("train", metadata={"namespace": "ml"}, spec=job_spec, opts=on_cluster)


def test_a_stack_built_without_our_components_is_caught() -> None:
    report = evaluate_plan(run_program(config_from_mapping("theirs", {}), _foreign_program), PROD_POLICY)
    failed = {v.policy for v in report.violations if v.level == "mandatory"}
    assert {
        "alluxio-short-circuit-local",
        "alluxio-read-type-cache",
        "alluxio-no-passive-cache",
        "alluxio-ufs-read-avoids-eviction",
        "alluxio-client-metadata-cache",
        "alluxio-jvm-active-processor-count",
        "alluxio-cpu-requests-limits",
        "alluxio-fuse-metadata-ttl",
        "alluxio-fuse-threads",
        "training-cpu-requests-limits",
        "training-shm-memory",
        "training-fuse-mount",
    } <= failed, report.render()
    short_circuit = report.for_policy("alluxio-short-circuit-local")
    assert any("emptyDir" in v.message for v in short_circuit), [v.message for v in short_circuit]
