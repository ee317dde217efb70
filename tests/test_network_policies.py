"""NetworkPolicies: valid objects that admit the data path's traffic and nothing else."""

from __future__ import annotations

import kubernetes_validate
import pytest

from ack_alluxio_training import network_policies as npol
from ack_alluxio_training.offline.mock_engine import run_program
from ack_alluxio_training.offline.stack_config import load_stack_config
from tests.test_alluxio_values import K8S_VERSION

ALL = [
    *npol.alluxio_namespace_policies("alluxio"),
    npol.training_job_policy("training", "resnet50", reaches_api_server=False),
    npol.training_job_policy("training", "resnet50-probe", reaches_api_server=True),
]


@pytest.mark.parametrize("policy", ALL, ids=[p["metadata"]["name"] for p in ALL])
def test_policies_validate_strictly(policy: dict[str, object]) -> None:
    kubernetes_validate.validate(policy, K8S_VERSION, strict=True)


def test_each_namespace_starts_from_deny_all() -> None:
    deny = npol.default_deny("training")
    assert deny["spec"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_the_master_is_reachable_on_its_ports_only_and_reaches_dns_and_oss() -> None:
    master = npol.alluxio_master_policy("alluxio")["spec"]
    assert master["podSelector"] == {"matchLabels": {"app": "alluxio", "role": "alluxio-master"}}
    [ingress] = master["ingress"]
    assert sorted(p["port"] for p in ingress["ports"]) == [19998, 19999, 20001, 20002]
    assert "from" not in ingress, "its clients (worker, FUSE) use the host network: any source, these ports"
    ports = sorted((p["protocol"], p["port"]) for rule in master["egress"] for p in rule["ports"])
    assert ports == [("TCP", 53), ("TCP", 80), ("TCP", 443), ("UDP", 53)]


def test_cli_jobs_only_reach_the_master_rpc_ports() -> None:
    jobs = npol.alluxio_cli_jobs_policy("alluxio")["spec"]
    assert "ingress" not in jobs and "Ingress" in jobs["policyTypes"]
    to_master = jobs["egress"][1]
    assert to_master["to"] == [{"podSelector": {"matchLabels": npol.MASTER_POD_LABELS}}]
    assert [p["port"] for p in to_master["ports"]] == [19998, 20001]


def test_a_job_talks_only_to_its_own_pods_and_only_the_probe_to_the_api() -> None:
    train = npol.training_job_policy("training", "a", reaches_api_server=False)["spec"]
    own = {"app.kubernetes.io/name": "a", "app.kubernetes.io/part-of": "ack-alluxio-training"}
    assert train["podSelector"] == {"matchLabels": own}
    assert train["ingress"] == [{"from": [{"podSelector": {"matchLabels": own}}]}]
    assert train["egress"][0] == {"to": [{"podSelector": {"matchLabels": own}}]}
    assert len(train["egress"]) == 2
    probe = npol.training_job_policy("training", "a", reaches_api_server=True)["spec"]
    assert [p["port"] for p in probe["egress"][2]["ports"]] == [443, 6443]


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_the_platform_closes_both_namespaces(stack: str) -> None:
    result = run_program(load_stack_config(stack))
    policies = [r.inputs for r in result.resources if r.type == "kubernetes:networking.k8s.io/v1:NetworkPolicy"]
    by_namespace: dict[str, set[str]] = {}
    for policy in policies:
        by_namespace.setdefault(policy["metadata"]["namespace"], set()).add(policy["metadata"]["name"])
    assert by_namespace["alluxio"] == {"default-deny", "alluxio-master", "alluxio-cli-jobs"}
    assert "default-deny" in by_namespace["training"]
    assert len(by_namespace["training"]) == 1 + len(result.outputs["trainingJobs"])
