"""The security scanner: Checkov over every stack, each remaining finding justified in SECURITY.md.

The end-to-end test plans every stack, runs Checkov once (from .venv-checkov, made by ``make``)
and fails on a finding SECURITY.md does not justify and on a justification that matches nothing.
It skips, saying why, where Checkov is not installed. The other tests need no Checkov.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from ack_alluxio_training import job_manifests
from ack_alluxio_training.offline import chart_render
from ack_alluxio_training.offline import security_scan as scan
from ack_alluxio_training.offline.stack_config import available_stacks, load_stack_config
from ack_alluxio_training.settings import settings_from_config


def _checkov_unavailable() -> str | None:
    try:
        scan.checkov_executable()
    except scan.ScanUnavailableError as exc:
        return str(exc)
    return None



ROWS = scan.justifications(scan.SECURITY_MD.read_text())


def test_security_md_has_its_sections_and_a_well_formed_table() -> None:
    text = scan.SECURITY_MD.read_text()
    for heading in ("## Threat model", "## Where secrets live", "## Rotating the OSS key without downtime",
                    "### Accepted findings"):
        assert heading in text
    table_lines = [line for line in text.splitlines() if re.match(r"^\| *CKV", line)]
    assert len(table_lines) == len(ROWS), "every table row parses (check | `pattern` | reason)"
    for row in ROWS:
        assert row.reason and len(row.reason) > 20, row
        assert "/" in row.resource_pattern, f"{row}: patterns are <stack>/<object>"
    assert len({(r.check_id, r.resource_pattern) for r in ROWS}) == len(ROWS), "no duplicate rows"


def test_only_the_fuse_daemon_set_may_be_privileged() -> None:
    privileged = {r.resource_pattern for r in ROWS if r.check_id in ("CKV_K8S_16", "CKV_K8S_39")}
    assert privileged == {"*/DaemonSet.alluxio.alluxio-fuse-fuse"}


def test_a_finding_is_covered_only_by_its_check_and_pattern() -> None:
    row = scan.Justification("CKV_K8S_16", "*/DaemonSet.alluxio.alluxio-fuse-fuse", "FUSE mounts")
    fuse = scan.Finding("prod", "CKV_K8S_16", "DaemonSet.alluxio.alluxio-fuse-fuse", "f", "privileged")
    worker = scan.Finding("prod", "CKV_K8S_16", "DaemonSet.alluxio.alluxio-worker", "f", "privileged")
    other_check = scan.Finding("prod", "CKV_K8S_19", "DaemonSet.alluxio.alluxio-fuse-fuse", "f", "host network")
    assert scan.unjustified([fuse, worker, other_check], [row]) == [worker, other_check]
    assert scan.stale([row], [worker]) == [row]
    assert scan.stale([row], [fuse]) == []
    dev_only = scan.Justification("CKV_K8S_14", "dev/*.training.*", "latest in dev")
    assert dev_only.covers(scan.Finding("dev", "CKV_K8S_14", "Pod.training.x", "f", ""))
    assert not dev_only.covers(scan.Finding("prod", "CKV_K8S_14", "Pod.training.x", "f", ""))


@pytest.mark.parametrize("stack", available_stacks())
def test_every_job_kind_becomes_pods_under_network_policies(stack: str) -> None:
    config = load_stack_config(stack)
    objects = scan.job_kind_objects(settings_from_config(config.values, config.secret_keys))
    pods = {o["metadata"]["name"] for o in objects if o["kind"] == "Pod"}
    assert {"mpijob-train-launcher", "mpijob-train-worker", "mpijob-probe-launcher", "tfjob-train-ps",
            "tfjob-train-worker", "pytorchjob-train-master", "trainjob-train-node", "job-train-trainer",
            "job-probe-trainer"} <= pods
    for obj in objects:
        assert obj["metadata"]["namespace"] == job_manifests.DEFAULT_NAMESPACE
    policies = [o for o in objects if o["kind"] == "NetworkPolicy"]
    assert {p["metadata"]["name"] for p in policies} >= {"default-deny", "mpijob-train-pods"}
    trainer = next(o for o in objects if o["metadata"]["name"] == "trainjob-train-node")
    assert trainer["spec"]["containers"][0]["image"], "the TrainJob's trainer container is whole"


def test_without_the_chart_the_scan_still_covers_manifests_and_pods(tmp_path: Path) -> None:
    plan = tmp_path / "plan"
    assert scan.plan_to("dev", plan) == 0
    for stale_render in (plan / chart_render.RENDERED_DIR).rglob("*.yaml"):
        stale_render.unlink()  # as a plan without a chart writes it
    staged = scan.stage("dev", plan, tmp_path / "staged")
    assert sorted(p.name for p in (staged / "manifests").glob("*.yaml"))
    pods = [yaml.safe_load(p.read_text()) for p in (staged / "job-pods").glob("*.yaml")]
    assert any(p["kind"] == "Pod" for p in pods)
    assert not list(staged.glob("rendered/**/*.yaml"))


CHECKOV_UNAVAILABLE = _checkov_unavailable()


@pytest.mark.skipif(CHECKOV_UNAVAILABLE is not None, reason=f"no security scanner: {CHECKOV_UNAVAILABLE}")
def test_checkov_finds_nothing_that_security_md_does_not_justify(tmp_path: Path) -> None:
    plans = {}
    for stack in available_stacks():
        plans[stack] = tmp_path / stack
        assert scan.plan_to(stack, plans[stack]) == 0
    findings = scan.scan_plans(plans)
    assert findings, "the scan ran (training pods run as root, so some findings always remain)"
    open_findings = scan.unjustified(findings, ROWS)
    assert not open_findings, "not justified in SECURITY.md:\n" + "\n".join(map(str, open_findings))
    privileged = {f.resource for f in findings if f.check_id == "CKV_K8S_16"}
    assert privileged <= {"DaemonSet.alluxio.alluxio-fuse-fuse"}
    if chart_render.unavailable_reason() is None:
        assert privileged == {"DaemonSet.alluxio.alluxio-fuse-fuse"}
        stale = scan.stale(ROWS, findings)
        assert not stale, "SECURITY.md justifies findings the scan no longer reports: " + ", ".join(
            f"{r.check_id} {r.resource_pattern}" for r in stale
        )
