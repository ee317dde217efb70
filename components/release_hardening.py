"""Least privilege for what chart 0.6.53 renders: the Helm post-renderer of both Alluxio releases.

The chart hard-codes pod and container security contexts (only ``runAsUser``/``runAsGroup``/
``fsGroup`` come from values) and has no values for seccomp, capabilities, privilege escalation or
service-account tokens. Helm's post-renderer hook changes the rendered objects before Helm sends
them, so the release stays a Helm release (``helm get manifest`` shows the hardened objects) and
nothing is forked. The ``helm.v3.Release`` resources name the command :data:`POSTRENDER_COMMAND`
(installed with this package as a console script); the offline plan pipes its render through the
same :func:`harden_stream`.

What it changes, and why it is safe for Alluxio 2.9:

- Every pod: ``automountServiceAccountToken: false`` unless the pod names a service account
  (master, worker and FUSE never call the Kubernetes API; only the chart's CSI plugin would).
- Every pod without a privileged container (master, worker, job master/worker, proxy, log
  server): seccomp ``RuntimeDefault``, ``runAsNonRoot`` when it runs as a non-zero uid, and in each
  container ``allowPrivilegeEscalation: false`` and all capabilities dropped (Alluxio binds ports
  above 1024 and needs none).
- The FUSE pod keeps what mounting needs (``privileged``, ``SYS_ADMIN``, root): Kubernetes refuses
  ``allowPrivilegeEscalation: false`` beside ``privileged: true``. It gets a readiness probe that
  is true only while the FUSE file system is mounted, so a DaemonSet rollout waits for the mount.
- Host directories of the cache tier: ``DirectoryOrCreate`` becomes ``Directory``. The kubelet
  would create a missing tier directory as root 0755, which the worker (uid 1000) cannot write;
  the node's systemd-tmpfiles rule (``node_pool.cache_directory_user_data``) creates it owned by
  the Alluxio user at every boot, so a pod that lands on a node without it waits visibly instead.
  The FUSE mount's parent (volume ``alluxio-fuse-mount``) stays ``DirectoryOrCreate``: FUSE runs
  as root and creates its mount point below it.

Not changed: ``readOnlyRootFilesystem`` (the image's entrypoint writes ``conf/alluxio-env.sh`` and
Alluxio writes ``logs/`` inside the image), ``hostNetwork`` (row 10) and the image reference
(chart values). SECURITY.md lists each of these with its reason.
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterable, Mapping
from typing import Any, Final

import yaml

#: The console script Helm runs as the releases' post-renderer (``[project.scripts]``).
POSTRENDER_COMMAND: Final = "ack-alluxio-postrender"
#: The chart's volume for the FUSE mount's parent directory (created by the root FUSE pod).
FUSE_MOUNT_VOLUME: Final = "alluxio-fuse-mount"
FUSE_CONTAINER: Final = "alluxio-fuse"
FUSE_READINESS_PERIOD_SECONDS: Final = 10

_POD_TEMPLATE_PATHS: Final[Mapping[str, tuple[str, ...]]] = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


def pod_spec_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The pod spec inside a workload object (None for objects that run no pods)."""
    path = _POD_TEMPLATE_PATHS.get(str(obj.get("kind")))
    node: Any = obj
    for key in path or ():
        node = node.get(key) if isinstance(node, dict) else None
    return node if path and isinstance(node, dict) else None


def _containers(pod: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [c for key in ("initContainers", "containers") for c in pod.get(key) or [] if isinstance(c, dict)]


def is_privileged(container: Mapping[str, Any]) -> bool:
    return bool((container.get("securityContext") or {}).get("privileged"))


def fuse_mount_point(container: Mapping[str, Any]) -> str | None:
    """The FUSE mount point from the chart's ``fuse`` args: the first absolute path argument."""
    args = [str(a) for a in container.get("args") or []]
    return next((a for a in args if a.startswith("/")), None)


def _mounted_readiness(mount_point: str) -> dict[str, Any]:
    # /proc/mounts lists the FUSE file system (type fuse.*) at the mount point once it is mounted.
    return {
        "exec": {"command": ["/bin/bash", "-c", f"grep -qs ' {mount_point} fuse' /proc/mounts"]},
        "periodSeconds": FUSE_READINESS_PERIOD_SECONDS,
        "failureThreshold": 3,
    }


def _harden_unprivileged(pod: dict[str, Any]) -> None:
    context = pod.setdefault("securityContext", {})
    context.setdefault("seccompProfile", {"type": "RuntimeDefault"})
    if context.get("runAsUser") not in (None, 0):
        context.setdefault("runAsNonRoot", True)
    for container in _containers(pod):
        security = container.setdefault("securityContext", {})
        security["allowPrivilegeEscalation"] = False
        capabilities = security.setdefault("capabilities", {})
        capabilities["drop"] = ["ALL"]


def _harden_fuse(pod: dict[str, Any]) -> None:
    for container in _containers(pod):
        if container.get("name") != FUSE_CONTAINER or "readinessProbe" in container:
            continue
        mount_point = fuse_mount_point(container)
        if mount_point:
            container["readinessProbe"] = _mounted_readiness(mount_point)


def _tier_directories_must_exist(pod: dict[str, Any]) -> None:
    for volume in pod.get("volumes") or []:
        host_path = volume.get("hostPath") if isinstance(volume, dict) else None
        if host_path and host_path.get("type") == "DirectoryOrCreate" and volume.get("name") != FUSE_MOUNT_VOLUME:
            host_path["type"] = "Directory"


def harden_object(obj: Mapping[str, Any]) -> dict[str, Any]:
    """One rendered object, hardened (objects that run no pods come back unchanged)."""
    hardened = copy.deepcopy(dict(obj))
    pod = pod_spec_of(hardened)
    if pod is None:
        return hardened
    if not pod.get("serviceAccountName"):
        pod["automountServiceAccountToken"] = False
    if any(is_privileged(c) for c in _containers(pod)):
        _harden_fuse(pod)
    else:
        _harden_unprivileged(pod)
    _tier_directories_must_exist(pod)
    return hardened


def harden_objects(objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [harden_object(o) for o in objects]


def harden_stream(manifests: str) -> str:
    """The post-renderer contract: a multi-document YAML stream in, the hardened stream out."""
    objects = [d for d in yaml.safe_load_all(manifests) if isinstance(d, dict)]
    return yaml.safe_dump_all(harden_objects(objects), sort_keys=False)


def main() -> int:
    """``ack-alluxio-postrender``: Helm writes the rendered manifests to stdin, reads stdout."""
    try:
        sys.stdout.write(harden_stream(sys.stdin.read()))
    except yaml.YAMLError as exc:
        print(f"{POSTRENDER_COMMAND}: the rendered manifests are not YAML: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
