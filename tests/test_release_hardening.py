"""The Helm post-renderer of the Alluxio releases: what it changes, and its stdin/stdout contract."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from ack_alluxio_training import release_hardening as rh
from ack_alluxio_training.offline.mock_engine import run_program
from ack_alluxio_training.offline.stack_config import load_stack_config


def _daemon_set(name: str, container: dict[str, Any], volumes: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {"template": {"spec": {
            "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
            "containers": [container],
            "volumes": volumes or [],
        }}},
    }


WORKER = _daemon_set(
    "alluxio-worker",
    {"name": "alluxio-worker", "image": "alluxio/alluxio:2.9.5"},
    [{"name": "mem", "hostPath": {"path": "/dev/shm/alluxio-cache", "type": "DirectoryOrCreate"}}],
)
FUSE = _daemon_set(
    "alluxio-fuse-fuse",
    {"name": "alluxio-fuse", "image": "alluxio/alluxio:2.9.5",
     "args": ["fuse", "--fuse-opts=ro", "/mnt/alluxio/fuse", "/"],
     "securityContext": {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}},
    [{"name": "alluxio-fuse-mount", "hostPath": {"path": "/mnt/alluxio", "type": "DirectoryOrCreate"}},
     {"name": "mem", "hostPath": {"path": "/dev/shm/alluxio-cache", "type": "DirectoryOrCreate"}}],
)


def test_unprivileged_pods_lose_privilege_escalation_capabilities_and_token() -> None:
    pod = rh.harden_object(WORKER)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"] == {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000, "runAsNonRoot": True,
                                      "seccompProfile": {"type": "RuntimeDefault"}}
    assert pod["containers"][0]["securityContext"] == {"allowPrivilegeEscalation": False,
                                                       "capabilities": {"drop": ["ALL"]}}
    assert pod["volumes"][0]["hostPath"]["type"] == "Directory"
    assert WORKER["spec"]["template"]["spec"]["volumes"][0]["hostPath"]["type"] == "DirectoryOrCreate", "input kept"


def test_fuse_keeps_what_mounting_needs_and_waits_for_its_mount() -> None:
    pod = rh.harden_object(FUSE)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["securityContext"] == {"privileged": True, "capabilities": {"add": ["SYS_ADMIN"]}}
    assert "seccompProfile" not in pod["securityContext"] and "runAsNonRoot" not in pod["securityContext"]
    assert container["readinessProbe"]["exec"]["command"][-1] == "grep -qs ' /mnt/alluxio/fuse fuse' /proc/mounts"
    types = {v["name"]: v["hostPath"]["type"] for v in pod["volumes"]}
    assert types == {"alluxio-fuse-mount": "DirectoryOrCreate", "mem": "Directory"}


def test_a_named_service_account_keeps_its_token_and_root_pods_are_not_marked_non_root() -> None:
    obj = _daemon_set("x", {"name": "x", "image": "x:1"})
    obj["spec"]["template"]["spec"]["serviceAccountName"] = "csi"
    obj["spec"]["template"]["spec"]["securityContext"]["runAsUser"] = 0
    pod = rh.harden_object(obj)["spec"]["template"]["spec"]
    assert "automountServiceAccountToken" not in pod
    assert "runAsNonRoot" not in pod["securityContext"]


def test_objects_without_pods_pass_through_unchanged() -> None:
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}}
    assert rh.harden_object(config_map) == config_map


def test_hardening_is_idempotent() -> None:
    once = rh.harden_objects([WORKER, FUSE])
    assert rh.harden_objects(once) == once


def test_the_command_helm_runs_reads_stdin_and_writes_stdout() -> None:
    stream = yaml.safe_dump_all([WORKER, FUSE], sort_keys=False)
    done = subprocess.run([sys.executable, "-m", "ack_alluxio_training.release_hardening"], input=stream,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout == rh.harden_stream(stream)
    bad = subprocess.run([sys.executable, "-m", "ack_alluxio_training.release_hardening"], input="a: [",
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "not YAML" in bad.stderr


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_both_releases_name_the_post_renderer(stack: str) -> None:
    releases = [r for r in run_program(load_stack_config(stack)).resources if r.type == "kubernetes:helm.sh/v3:Release"]
    assert len(releases) == 2
    assert {r.inputs["postrender"] for r in releases} == {rh.POSTRENDER_COMMAND}
