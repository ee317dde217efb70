"""Guardrail on ACK node pools: FUSE needs a kernel of at least 4.19 (tuning row 1).

The kernel decides how FUSE pages are cached and how reads are batched; Alibaba Cloud Linux 3 and 4
ship 5.10 and 6.6, Alinux 2 (4.19) is end-of-life and refused by ACK >= 1.30, CentOS 7 ships 3.10.
A pool is judged by its ``imageType``; a ``Custom`` image (or a bare ``imageId``) has no known
kernel, so it must declare one with the ``ack-alluxio-training/kernel-version`` tag or node label.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
)

from ack_alluxio_training import node_images, tuning
from ack_alluxio_training.conventions import GPUS_PER_NODE_TAG, KERNEL_VERSION_TAG
from ack_alluxio_training.policies.guardrails import Guardrail, ResourceGuardrail, config_value, exact_types
from ack_alluxio_training.policies.inputs import (
    as_flag,
    as_int,
    as_mapping,
    as_sequence,
    as_text,
    key_value_list,
    string_map,
)

NODE_POOL: Final = "alicloud:cs/nodePool:NodePool"


def declared_kernel(props: Any) -> str | None:
    """The kernel a pool declares for its image: the tag, else the node label of the same name."""
    inputs = as_mapping(props)
    return string_map(inputs.get("tags")).get(KERNEL_VERSION_TAG) or key_value_list(inputs.get("labels")).get(
        KERNEL_VERSION_TAG
    )


def _kernel(args: ResourceValidationArgs, report: ReportViolation) -> None:
    floor = str(config_value(args, "kernelFloor", tuning.DEFAULT_KERNEL_FLOOR))
    image_type = as_text(args.props.get("imageType"))
    image_id = as_text(args.props.get("imageId"))
    kernel = declared_kernel(args.props)
    if image_type is None:
        if image_id is None:
            report(f"imageType is unset, so ACK picks a default image whose kernel cannot be checked; set imageType "
                   f"to one of {', '.join(node_images.allowed_image_types(floor)[:-1])}", None)
            return
        image_type = node_images.CUSTOM_IMAGE_TYPE
    if image_type == node_images.CUSTOM_IMAGE_TYPE:
        subject = f"imageId {image_id!r}" if image_id else "imageType 'Custom'"
        if not kernel:
            report(f"{subject} has no declared kernel; add the tag {KERNEL_VERSION_TAG}=<kernel version> (>= {floor}) "
                   "or use an Alibaba Cloud Linux 3/4 imageType", None)
            return
        try:
            good = node_images.kernel_at_least(kernel, floor)
        except ValueError:
            report(f"{subject} declares kernel {kernel!r} ({KERNEL_VERSION_TAG}), which is not a kernel version", None)
            return
        if not good:
            report(f"{subject} declares kernel {kernel} ({KERNEL_VERSION_TAG}), below the FUSE floor {floor}", None)
        return
    problem = node_images.image_kernel_problem(image_type, floor, kernel)
    if problem:
        report(f"imageType {image_type!r}: {problem}", None)


NODE_POOL_FUSE_KERNEL = ResourceGuardrail(
    name="node-pool-fuse-kernel",
    description=(
        "Tuning row 1: nodes that run Alluxio FUSE must boot a kernel >= 4.19 (page cache for FUSE files, "
        "writeback and async reads); images below the floor, end-of-life or with an unknown kernel are refused."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set the node pool's imageType to AliyunLinux3 (kernel 5.10) or AliyunLinux4 (6.6); for imageType Custom or "
        f"an imageId, declare the image's kernel with the tag {KERNEL_VERSION_TAG}=<version>."
    ),
    applies_to=exact_types(NODE_POOL),
    validate=_kernel,
    rows=(1,),
    config_schema=PolicyConfigSchema(
        properties={"kernelFloor": {"type": "string", "pattern": r"^\d+(\.\d+)*$",
                                    "default": tuning.DEFAULT_KERNEL_FLOOR,
                                    "description": "Lowest kernel version FUSE nodes may run."}},
    ),
    tags=("node-pool",),
)

# --- facts other rules read about the stack's node pools ------------------------------------------

#: Taint effects that keep a pod off a node (PreferNoSchedule only discourages).
HARD_TAINT_EFFECTS: Final = frozenset({"NoSchedule", "NoExecute"})


@dataclass(frozen=True)
class NodePoolFacts:
    """What the stack rules need to know about one node pool."""

    urn: str
    name: str
    labels: dict[str, str]
    taints: tuple[tuple[str, str, str], ...]
    nodes: int | None
    gpus_per_node: int | None


def node_pool_facts(resource: PolicyResource) -> NodePoolFacts:
    """Labels, hard taints, sure node count (autoscaling minimum, else desired size), GPUs per node."""
    props = resource.props
    labels = key_value_list(props.get("labels"))
    tags = string_map(props.get("tags"))
    scaling = as_mapping(props.get("scalingConfig"))
    if as_flag(scaling.get("enable")) is True:
        nodes = as_int(scaling.get("minSize"))
    else:
        nodes = as_int(props.get("desiredSize"))
        if nodes is None:
            nodes = as_int(props.get("nodeCount"))
    taints = []
    for raw in as_sequence(props.get("taints")):
        taint = as_mapping(raw)
        effect = as_text(taint.get("effect")) or "NoSchedule"
        if effect in HARD_TAINT_EFFECTS:
            taints.append((as_text(taint.get("key")) or "", as_text(taint.get("value")) or "", effect))
    gpus = as_int(tags.get(GPUS_PER_NODE_TAG) or labels.get(GPUS_PER_NODE_TAG))
    name = as_text(props.get("nodePoolName")) or as_text(props.get("name")) or resource.name
    return NodePoolFacts(resource.urn, name, labels, tuple(taints), nodes, gpus)


def tolerates(tolerations: Sequence[Mapping[str, Any]], taint: tuple[str, str, str]) -> bool:
    """Whether a pod's tolerations admit it past one taint, by Kubernetes' matching rules."""
    key, value, effect = taint
    for toleration in tolerations:
        wanted_effect = as_text(toleration.get("effect")) or ""
        if wanted_effect and wanted_effect != effect:
            continue
        operator = as_text(toleration.get("operator")) or "Equal"
        tolerated_key = as_text(toleration.get("key")) or ""
        if operator == "Exists" and tolerated_key in ("", key):
            return True
        if operator == "Equal" and tolerated_key == key and (as_text(toleration.get("value")) or "") == value:
            return True
    return False


def show_taint(taint: tuple[str, str, str]) -> str:
    key, value, effect = taint
    return f"{key}={value}:{effect}" if value else f"{key}:{effect}"


class NodePools:
    """The stack's node pools, with what rules ask of them remembered per distinct nodeSelector.

    Many workloads share a few selectors, and one selector may match every pool, so anything
    computed over the matching pools is computed once per selector: the rules stay linear in the
    number of workloads and pools together.
    """

    def __init__(self, resources: Iterable[PolicyResource]) -> None:
        self.pools = [node_pool_facts(r) for r in resources if r.resource_type == NODE_POOL]
        self._matches: dict[frozenset[tuple[str, str]], list[NodePoolFacts]] = {}
        self._taint_sets: dict[frozenset[tuple[str, str]], list[tuple[tuple[str, str, str], ...]]] = {}
        self._gpus: dict[frozenset[tuple[str, str]], int | None] = {}
        self._nodes: dict[frozenset[tuple[str, str]], tuple[int | None, str]] = {}

    def matching(self, selector: Mapping[str, str]) -> list[NodePoolFacts]:
        """Pools whose node labels satisfy a nodeSelector (every pool when there is no selector)."""
        key = frozenset(selector.items())
        if key not in self._matches:
            self._matches[key] = [p for p in self.pools if all(p.labels.get(k) == v for k, v in selector.items())]
        return self._matches[key]

    def taint_sets(self, selector: Mapping[str, str]) -> list[tuple[tuple[str, str, str], ...]]:
        """The distinct taint lists of the matching pools, in the order the pools come."""
        key = frozenset(selector.items())
        if key not in self._taint_sets:
            self._taint_sets[key] = list(dict.fromkeys(p.taints for p in self.matching(selector)))
        return self._taint_sets[key]

    def most_gpus_per_node(self, selector: Mapping[str, str]) -> int | None:
        """The largest declared GPUs per node among the matching pools (None when none declares any)."""
        key = frozenset(selector.items())
        if key not in self._gpus:
            self._gpus[key] = max((p.gpus_per_node for p in self.matching(selector) if p.gpus_per_node), default=None)
        return self._gpus[key]

    def sure_nodes(self, selector: Mapping[str, str]) -> tuple[int | None, str]:
        """Nodes the matching pools surely have, and how that adds up (None: no pool, or one unknown)."""
        key = frozenset(selector.items())
        if key not in self._nodes:
            matched = self.matching(selector)
            if not matched or any(p.nodes is None for p in matched):
                self._nodes[key] = (None, "")
            else:
                self._nodes[key] = (sum(p.nodes or 0 for p in matched),
                                    " + ".join(f"{p.nodes} nodes of pool {p.name!r}" for p in matched))
        return self._nodes[key]


POLICIES: Final[list[Guardrail]] = [NODE_POOL_FUSE_KERNEL]
