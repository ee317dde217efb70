"""The pack's metadata: names, levels, severities, remediation text, config schemas, and the files
the Pulumi CLI reads (PulumiPolicy.yaml, __main__.py, config/<env>.json)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc  # type: ignore[import-untyped]
import pytest
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc

from ack_alluxio_training import tuning
from ack_alluxio_training.offline.policy_runner import (
    PolicyInfo,
    environment_config_path,
    evaluate,
    load_policy_config,
    pack_info,
    resolve_policy_config,
)
from ack_alluxio_training.policies.guardrails import ResourceGuardrail, StackGuardrail
from ack_alluxio_training.policies.pack import PACK_DIR, PACK_NAME, all_policies, pack_version
from tests.fixtures.policies.examples import resources

ROOT = Path(__file__).resolve().parent.parent

#: name -> (default level, severity, tuning rows, kind, a setting the remediation must name)
EXPECTED = {
    "node-pool-fuse-kernel": ("mandatory", "high", (1,), "resource", "AliyunLinux3"),
    "oss-bucket-private": ("mandatory", "critical", (), "resource", "acl='private'"),
    "oss-bucket-protected": ("mandatory", "medium", (), "resource", "protect=True"),
    "ram-policy-least-privilege": ("mandatory", "high", (), "resource", "acs:oss:*:*:<bucket>"),
    "oss-bucket-encrypted": ("mandatory", "high", (), "stack", "sseAlgorithm AES256"),
    "oss-bucket-public-access-blocked": ("mandatory", "high", (), "stack", "blockPublicAccess=true"),
    "alluxio-ufs-read-avoids-eviction": ("mandatory", "medium", (4,), "resource", tuning.AVOID_EVICTION_POLICY_CLASS),
    "alluxio-no-passive-cache": ("mandatory", "medium", (5,), "resource", f"{tuning.KEY_PASSIVE_CACHE}=false"),
    "alluxio-read-type-cache": ("mandatory", "medium", (6,), "resource", f"{tuning.KEY_READ_TYPE}=CACHE"),
    "alluxio-client-metadata-cache": (
        "mandatory", "medium", (7,), "resource", f"{tuning.KEY_METADATA_CACHE_ENABLED}=true"
    ),
    "alluxio-worker-list-refresh": ("advisory", "low", (8,), "resource", tuning.KEY_WORKER_LIST_REFRESH),
    "alluxio-no-access-time-updates": (
        "advisory", "low", (9,), "resource", f"{tuning.KEY_ACCESS_TIME_UPDATES_DISABLED}=true"
    ),
    "alluxio-short-circuit-local": ("mandatory", "high", (10,), "resource", "shortCircuit.policy=local"),
    "alluxio-jvm-active-processor-count": ("mandatory", "medium", (11,), "resource", "-XX:ActiveProcessorCount="),
    "alluxio-cpu-requests-limits": ("mandatory", "medium", (12,), "resource", "resources.requests.cpu"),
    "alluxio-fuse-metadata-ttl": ("mandatory", "medium", (2,), "resource", "entry_timeout=7200,attr_timeout=7200"),
    "alluxio-fuse-threads": ("mandatory", "medium", (3,), "resource", "MAX_IDLE_THREADS"),
    "alluxio-client-finds-master": ("mandatory", "high", (), "resource", "alluxio.master.hostname="),
    "alluxio-metrics-sink": ("advisory", "low", (), "resource", "metrics.PrometheusMetricsServlet.enabled: true"),
    "alluxio-release-names-distinct": ("mandatory", "high", (), "stack", "values.fullnameOverride"),
    "privileged-pods-only-in-fuse-namespace": ("mandatory", "critical", (), "resource", "(default 'alluxio')"),
    "training-gpu-limits": ("mandatory", "high", (), "resource", "resources.limits['nvidia.com/gpu']"),
    "training-gpu-toleration": ("mandatory", "medium", (), "stack", "key ack-alluxio-training/gpu"),
    "training-shm-memory": ("mandatory", "medium", (), "resource", "medium: Memory"),
    "training-fuse-mount": ("mandatory", "high", (), "resource", "mountPropagation: HostToContainer"),
    "training-cpu-requests-limits": ("mandatory", "medium", (12,), "resource", "resources.limits.cpu"),
    "alluxio-cache-holds-dataset": ("mandatory", "high", (13,), "stack", "tieredstore.levels[].quota"),
    "fuse-threads-cover-readers": ("mandatory", "medium", (3,), "stack", "max_idle_threads"),
    "bucket-in-cluster-region": ("mandatory", "medium", (), "stack", "ack-alluxio-training/region"),
    "prod-safety-switches": ("mandatory", "critical", (), "stack", "deletionProtection=true"),
}

INFOS = {info.name: info for info in pack_info()}


def test_the_pack_holds_exactly_the_expected_rules() -> None:
    assert list(INFOS) == [p.name for p in all_policies()]
    assert set(INFOS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_rule_metadata(name: str) -> None:
    level, severity, rows, kind, setting = EXPECTED[name]
    info: PolicyInfo = INFOS[name]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)+", name)
    assert info.enforcement_level == level
    assert info.severity == severity
    assert info.rows == rows
    assert info.kind == kind
    assert setting in info.remediation_steps
    assert len(info.description) > 80
    for row in rows:
        assert f"row {row}" in info.description.lower()


def test_every_tuning_row_is_guarded() -> None:
    covered = {row for info in INFOS.values() for row in info.rows}
    assert covered == set(range(1, 14))


def test_rules_declare_the_types_they_read() -> None:
    for policy in all_policies():
        assert isinstance(policy, (ResourceGuardrail, StackGuardrail))
        assert callable(policy.applies_to)
        assert policy.tags and all(isinstance(t, str) for t in policy.tags)


def test_config_schema_defaults_are_the_tuned_values() -> None:
    resolved, warnings = resolve_policy_config(None)
    assert warnings == []
    ttl = resolved["alluxio-fuse-metadata-ttl"].properties
    assert ttl == {"minTimeoutSeconds": tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS}
    assert resolved["alluxio-worker-list-refresh"].properties["minRefreshSeconds"] == 120
    assert resolved["node-pool-fuse-kernel"].properties == {"kernelFloor": tuning.DEFAULT_KERNEL_FLOOR}
    assert resolved["privileged-pods-only-in-fuse-namespace"].properties == {"fuseNamespaces": ["alluxio"]}
    assert resolved["oss-bucket-protected"].properties == {"requireProtect": True}


def test_pulumi_policy_yaml() -> None:
    document = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert document["runtime"] == {"name": "python", "options": {"virtualenv": "../.venv"}}
    assert re.fullmatch(r"\d+\.\d+\.\d+", document["version"])
    assert pack_version() == document["version"]


def test_main_only_constructs_the_pack() -> None:
    source = (PACK_DIR / "__main__.py").read_text()
    assert source.count("PolicyPack(") == 1
    assert "sys.path" not in source, "the pack imports the installed package, not a path hack"
    importing = re.compile(
        r"^\s*(from\s+ack_alluxio_training\.policies(\.__main__|\s+import\s+__main__)"
        r"|import\s+ack_alluxio_training\.policies\.__main__)",
        re.M,
    )
    for path in [*PACK_DIR.glob("*.py"), *(ROOT / "offline").glob("*.py"), *(ROOT / "tests").glob("*.py")]:
        if path.name == "__main__.py":
            continue
        if path.parent != ROOT / "tests":
            assert "PolicyPack(" not in path.read_text(), path
        assert not importing.search(path.read_text()), path


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_environment_configs_are_valid(environment: str) -> None:
    config = load_policy_config(environment_config_path(environment))
    resolved, warnings = resolve_policy_config(config)
    assert warnings == []
    levels = {r.level for r in resolved.values()}
    if environment == "dev":
        assert levels == {"advisory"}
        assert resolved["oss-bucket-protected"].properties["requireProtect"] is False
    if environment == "prod":
        # Everything gates the deployment except the advisory observability rule.
        assert resolved.pop("alluxio-metrics-sink").level == "advisory"
        assert {r.level for r in resolved.values()} == {"mandatory"}
        assert resolved["oss-bucket-protected"].properties["requireProtect"] is True
    if environment == "staging":
        assert resolved["alluxio-short-circuit-local"].level == "mandatory"
        assert resolved["alluxio-worker-list-refresh"].level == "advisory"


def test_environment_levels_decide_the_gate() -> None:
    misconfigured = resources("misconfigured-stack.json")
    dev = evaluate(misconfigured, load_policy_config(environment_config_path("dev")))
    prod = evaluate(misconfigured, load_policy_config(environment_config_path("prod")))
    assert dev.passed and dev.violations
    assert not prod.passed
    assert prod.violated("mandatory") >= {"alluxio-worker-list-refresh", "oss-bucket-protected"}


def test_the_cli_entrypoint_serves_the_pack_over_grpc() -> None:
    """Start policies/__main__.py the way the Pulumi CLI does (cwd policies/) and talk gRPC to it."""
    env = dict(os.environ, PYTHONPATH="")
    process = subprocess.Popen(
        [sys.executable, "-u", "__main__.py"], cwd=PACK_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline().decode().strip())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = analyzer_pb2_grpc.AnalyzerStub(channel)
        deadline = time.monotonic() + 30
        while True:
            try:
                info = stub.GetAnalyzerInfo(empty_pb2.Empty(), timeout=5)
                break
            except grpc.RpcError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert info.name == PACK_NAME
        assert [p.name for p in info.policies] == list(INFOS)
        # the served pack reaches the same verdict as the offline runner on one resource
        release = next(r for r in resources("misconfigured-stack.json") if r["urn"].endswith("::fuse"))
        request = analyzer_pb2.AnalyzeRequest(type=release["type"], urn=release["urn"], name="fuse")
        request.properties.update(release["inputs"])
        served = stub.Analyze(request, timeout=30)
        offline = evaluate([release])
        assert {d.policyName for d in served.diagnostics} == offline.violated()
        channel.close()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_fixture_exports_are_json() -> None:
    for path in (ROOT / "tests" / "fixtures" / "policies").glob("*.json"):
        json.loads(path.read_text())
