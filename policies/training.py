"""Guardrails on training pods: GPUs, cpu (row 12), shared memory and the FUSE data path.

A training pod that reads through Alluxio needs four things the scheduler and the runtime cannot
infer: GPUs as limits (the device plugin only honours limits), a toleration for the GPU taint,
a memory-backed /dev/shm for the data loaders' worker processes, and the FUSE mount point as a
hostPath with ``HostToContainer`` propagation (without it a FUSE restart leaves the pod holding a
dead mount). Batch Jobs count as training when they declare reader threads or ask for GPUs; the
Kubeflow kinds always do. MPI launchers and TF parameter servers do not read data and are exempt
from the GPU and data-path rules, not from cpu requests.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from ack_alluxio_training import tuning
from ack_alluxio_training.conventions import DEFAULT_FUSE_MOUNT_POINT, GPU_RESOURCE
from ack_alluxio_training.policies.guardrails import (
    WHOLE_CORES_CONFIG,
    Guardrail,
    ResourceGuardrail,
    StackGuardrail,
    any_of,
    exact_types,
    kubernetes_kinds,
)
from ack_alluxio_training.policies.inputs import as_mapping, as_sequence, as_text, dig, show
from ack_alluxio_training.policies.node_pool import NODE_POOL, NodePools, show_taint, tolerates
from ack_alluxio_training.policies.workloads import (
    TRAINING_KINDS,
    PodTemplate,
    gpus_of,
    is_training_workload,
    pod_templates,
    quantity_of,
    training_containers,
)

SHM_PATH: Final = "/dev/shm"
is_training_type = kubernetes_kinds(*TRAINING_KINDS)
is_job_or_training_type = kubernetes_kinds(*TRAINING_KINDS, ("batch", "CronJob"))

TemplateCheck = Callable[[PodTemplate, Mapping[str, Any]], Iterator[str]]


def _container_label(template: PodTemplate, index: int, container: Mapping[str, Any]) -> str:
    name = as_text(container.get("name")) or str(index)
    return f"{template.at(f'spec.containers[{index}]')} ({name!r})"


def data_reader_checks(check: TemplateCheck) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A validation that runs ``check`` on each data-reading pod template of a training workload."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        templates = pod_templates(args.resource_type, args.props)
        if not is_training_workload(args.resource_type, templates):
            return
        config = args.get_config()
        for template in templates:
            if template.reads_data:
                for problem in check(template, config):
                    report(problem, None)

    return validate


# --- GPUs as limits, GPU toleration -------------------------------------------------------------


def _gpu_problems(template: PodTemplate, _: Mapping[str, Any]) -> Iterator[str]:
    for index, container in training_containers(template):
        resources = container.get("resources")
        limit = quantity_of(resources, "limits", GPU_RESOURCE)
        request = quantity_of(resources, "requests", GPU_RESOURCE)
        label = _container_label(template, index, container)
        if limit is None or limit <= 0:
            yield (f"{label}: resources.limits.{GPU_RESOURCE} is unset; GPUs are scheduled by their limit only "
                   "(set requests equal to it or leave requests out)")
        elif request is not None and request != limit:
            yield f"{label}: {GPU_RESOURCE} request {request} differs from limit {limit}; they must be equal"


TRAINING_GPU_LIMITS = ResourceGuardrail(
    name="training-gpu-limits",
    description=(
        "Training containers must ask for GPUs as resources.limits.nvidia.com/gpu (requests, if given, equal): the "
        "device plugin allocates by limit, so a request-only or GPU-less trainer silently runs on CPU."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set resources.limits['nvidia.com/gpu'] on each trainer container to the GPUs per worker.",
    applies_to=is_training_type,
    validate=data_reader_checks(_gpu_problems),
    tags=("training", "gpu"),
)


def _schedulable(args: StackValidationArgs, report: ReportViolation) -> None:
    pools = NodePools(args.resources)
    if not pools.pools:
        return  # the node pools are outside this stack: their taints are unknown
    for resource in args.resources:
        templates = pod_templates(resource.resource_type, resource.props)
        if not is_training_workload(resource.resource_type, templates):
            continue
        for template in templates:
            selector = template.node_selector
            wants_gpus = any((gpus_of(c) or 0) > 0 for _, c in template.containers)
            if not (wants_gpus or selector):
                continue
            candidates = pools.matching(selector)
            if not candidates:
                continue
            tolerations = template.tolerations
            # pools share a few taint lists: check each list once, in the order the pools come
            untolerated = {
                taints: [t for t in taints if not tolerates(tolerations, t)] for taints in pools.taint_sets(selector)
            }
            if all(untolerated.values()):
                detail = "; ".join(
                    f"pool {p.name!r}: {', '.join(show_taint(t) for t in untolerated[p.taints])}" for p in candidates
                )
                report(f"{template.at('spec.tolerations')} tolerates no node pool the pods may run on ({detail}); "
                       "they would stay Pending", resource.urn)


TRAINING_GPU_TOLERATION = StackGuardrail(
    name="training-gpu-toleration",
    description=(
        "GPU training pods (and any training pod with a nodeSelector) must tolerate the taints of a node pool they "
        "select; the GPU pool is tainted to keep everything else off its nodes, so without the toleration the pods "
        "stay Pending."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give the pod templates the GPU node pool's tolerations (the GpuNodePool's tolerations output, e.g. key "
        "ack-alluxio-training/gpu, operator Equal, value true, effect NoSchedule)."
    ),
    applies_to=any_of(is_training_type, exact_types(NODE_POOL)),
    validate=_schedulable,
    tags=("training", "gpu"),
)


# --- /dev/shm in memory --------------------------------------------------------------------------


def _mounts(container: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [as_mapping(m) for m in as_sequence(container.get("volumeMounts"))]


def _shm_problems(template: PodTemplate, _: Mapping[str, Any]) -> Iterator[str]:
    memory_volumes = {
        as_text(v.get("name"))
        for v in template.volumes
        if as_text(dig(v, "emptyDir", "medium")) == "Memory"
    }
    for index, container in training_containers(template):
        shm = [m for m in _mounts(container) if posixpath.normpath(as_text(m.get("mountPath")) or "/") == SHM_PATH]
        label = _container_label(template, index, container)
        if not shm:
            yield (f"{label} mounts nothing at {SHM_PATH}; the runtime's 64Mi default kills multi-process data "
                   "loaders (add an emptyDir with medium Memory)")
        elif as_text(shm[0].get("name")) not in memory_volumes:
            volume = as_text(shm[0].get("name"))
            yield f"{label}: the volume {volume!r} at {SHM_PATH} is not an emptyDir with medium Memory"


TRAINING_SHM_MEMORY = ResourceGuardrail(
    name="training-shm-memory",
    description=(
        "Training containers must mount an emptyDir with medium Memory at /dev/shm: data loader worker processes "
        "pass batches through shared memory, and the container runtime's 64Mi default makes them crash or stall."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Add volume {emptyDir: {medium: Memory, sizeLimit: 32Gi}} and mount it at /dev/shm in the trainer."
    ),
    applies_to=is_training_type,
    validate=data_reader_checks(_shm_problems),
    tags=("training",),
)


# --- the FUSE data path ---------------------------------------------------------------------------


def _under(path: str, root: str) -> bool:
    path, root = posixpath.normpath(path), posixpath.normpath(root)
    return path == root or path.startswith(root.rstrip("/") + "/")


def _fuse_mount_problems(template: PodTemplate, config: Mapping[str, Any]) -> Iterator[str]:
    root = str(config.get("fuseMountPoint") or DEFAULT_FUSE_MOUNT_POINT)
    fuse_volumes = {
        as_text(v.get("name")): as_text(dig(v, "hostPath", "path")) or ""
        for v in template.volumes
        if dig(v, "hostPath", "path") is not None and _under(as_text(dig(v, "hostPath", "path")) or "", root)
    }
    if not fuse_volumes:
        yield (f"{template.at('spec.volumes')} has no hostPath volume at or under the FUSE mount point {root!r}; "
               "training reads must go through Alluxio FUSE")
        return
    for index, container in training_containers(template):
        label = _container_label(template, index, container)
        mounts = [m for m in _mounts(container) if as_text(m.get("name")) in fuse_volumes]
        if not mounts:
            yield f"{label} does not mount the FUSE volume {sorted(n for n in fuse_volumes if n)}"
            continue
        for mount in mounts:
            propagation = mount.get("mountPropagation")
            if as_text(propagation) != "HostToContainer":
                yield (f"{label}: volumeMount {as_text(mount.get('name'))!r} has mountPropagation "
                       f"{show(propagation)}; set 'HostToContainer' so a restarted FUSE daemon's new mount "
                       "reaches the pod")


TRAINING_FUSE_MOUNT = ResourceGuardrail(
    name="training-fuse-mount",
    description=(
        "Training containers must read the data set through the Alluxio FUSE mount: a hostPath volume at the FUSE "
        "mount point, mounted with mountPropagation HostToContainer so the pod sees the live mount even after the "
        "FUSE daemon restarts."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Add volume {hostPath: {path: /mnt/alluxio/fuse, type: Directory}} and mount it read-only with "
        "mountPropagation: HostToContainer in each trainer container."
    ),
    applies_to=is_training_type,
    validate=data_reader_checks(_fuse_mount_problems),
    config_schema=PolicyConfigSchema(
        properties={"fuseMountPoint": {"type": "string", "pattern": "^/.+", "default": DEFAULT_FUSE_MOUNT_POINT,
                                       "description": "Host path where the FUSE release mounts Alluxio."}},
    ),
    tags=("training", "fuse"),
)


# --- row 12: cpu requests and limits ----------------------------------------------------------------


def _cpu(args: ResourceValidationArgs, report: ReportViolation) -> None:
    whole_cores = bool(args.get_config().get("wholeCores", True))
    for template in pod_templates(args.resource_type, args.props):
        for index, container in template.containers:
            resources = container.get("resources")
            request = as_text(dig(resources, "requests", "cpu"))
            limit = as_text(dig(resources, "limits", "cpu"))
            problem = tuning.cpu_guarantee_problem(request, limit, whole_cores)
            if problem is not None:
                label = _container_label(template, index, container)
                report(f"{label}: cpu request {show(request)} and limit {show(limit)} (resources.requests.cpu, "
                       f"resources.limits.cpu): {problem}", None)


TRAINING_CPU_REQUESTS_LIMITS = ResourceGuardrail(
    name="training-cpu-requests-limits",
    description=(
        "Tuning row 12: every container of a training or data-loading job must have a cpu request equal to its cpu "
        "limit, in whole cores: a container without a request gets cpu_shares=2 and its decoding threads lose every "
        "contention, and the static CPU manager gives exclusive cores only to Guaranteed pods."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set resources.requests.cpu equal to resources.limits.cpu, in whole cores, on every container of the job "
        "(our stacks: ack-alluxio-training:jobs[].resources.cpu sets both)."
    ),
    applies_to=is_job_or_training_type,
    validate=_cpu,
    rows=(12,),
    config_schema=PolicyConfigSchema(properties={"wholeCores": WHOLE_CORES_CONFIG}),
    tags=("training", "resources"),
)


POLICIES: Final[list[Guardrail]] = [
    TRAINING_GPU_LIMITS,
    TRAINING_GPU_TOLERATION,
    TRAINING_SHM_MEMORY,
    TRAINING_FUSE_MOUNT,
    TRAINING_CPU_REQUESTS_LIMITS,
]
