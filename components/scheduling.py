"""Where the platform's pods run: the GPU pool's node label and taint, defined once.

The node pool puts these on its nodes; the Alluxio worker, FUSE and training pods select and
tolerate them. Keeping the constants here (not in each component) means a pod can never select a
label the pool does not set, and the policy pack can check the same values.

The taint keeps every other workload off the GPU nodes: the cache's short-circuit reads (row 10)
and the FUSE threads (row 3) assume the node's CPUs and page cache belong to the platform.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final, Protocol

import pulumi

#: Label every node of the platform's GPU pool carries; pods select on it.
NODE_ROLE_LABEL_KEY: Final = "ack-alluxio-training/role"
NODE_ROLE_LABEL_VALUE: Final = "gpu-cache"

#: Informational label naming the node pool a node belongs to (not used for selection, so
#: renaming the pool never strands pods).
NODE_POOL_LABEL_KEY: Final = "ack-alluxio-training/node-pool"

#: ACK reads this node label when a node joins and installs that NVIDIA driver version.
NVIDIA_DRIVER_LABEL_KEY: Final = "ack.aliyun.com/nvidia-driver-version"

#: Taint only the platform's pods tolerate. A key in our own prefix (not ``nvidia.com/gpu``,
#: which GPU add-ons tolerate wholesale) so that no third-party workload lands here by accident.
GPU_TAINT_KEY: Final = "ack-alluxio-training/gpu"
GPU_TAINT_VALUE: Final = "true"
GPU_TAINT_EFFECT: Final = "NoSchedule"


def node_selector() -> dict[str, str]:
    """The nodeSelector that puts a pod on the platform's GPU pool."""
    return {NODE_ROLE_LABEL_KEY: NODE_ROLE_LABEL_VALUE}


def node_labels(pool_name: str, nvidia_driver_version: str | None = None) -> dict[str, str]:
    """Labels the GPU pool puts on its nodes: the selector label, the pool name, the driver pin."""
    labels = {**node_selector(), NODE_POOL_LABEL_KEY: pool_name}
    if nvidia_driver_version:
        labels[NVIDIA_DRIVER_LABEL_KEY] = nvidia_driver_version
    return labels


def node_taints() -> list[dict[str, str]]:
    """Taints the GPU pool puts on its nodes, in the shape ACK's node pool takes (key/value/effect)."""
    return [{"key": GPU_TAINT_KEY, "value": GPU_TAINT_VALUE, "effect": GPU_TAINT_EFFECT}]


def tolerations() -> list[dict[str, str]]:
    """Kubernetes tolerations (camelCase, as in a manifest) a platform pod needs: exactly the taints."""
    return [
        {"key": taint["key"], "operator": "Equal", "value": taint["value"], "effect": taint["effect"]}
        for taint in node_taints()
    ]


def tolerates(pod_tolerations: list[dict[str, str]], taint: dict[str, str]) -> bool:
    """Whether a pod's tolerations admit it past one taint (Kubernetes' matching rules).

    For the policy pack and tests: a pod with ``operator: Exists`` and no key tolerates everything,
    which is exactly what this lets a rule notice.
    """
    for toleration in pod_tolerations:
        effect = toleration.get("effect")
        if effect and effect != taint["effect"]:
            continue
        operator = toleration.get("operator", "Equal")
        key = toleration.get("key")
        if operator == "Exists" and (not key or key == taint["key"]):
            return True
        if operator == "Equal" and key == taint["key"] and toleration.get("value", "") == taint["value"]:
            return True
    return False


class GpuPlacement(Protocol):
    """What a pod's owner reads from the GPU node pool (``GpuNodePool`` provides it)."""

    @property
    def node_selector(self) -> pulumi.Input[Mapping[str, str]]: ...

    @property
    def tolerations(self) -> pulumi.Input[Sequence[Mapping[str, Any]]]: ...


class CachePlacement(GpuPlacement, Protocol):
    """What the cache worker and FUSE also read: the host directory of the tier they share (row 10)."""

    @property
    def cache_host_path(self) -> pulumi.Input[str]: ...
