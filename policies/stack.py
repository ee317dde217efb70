"""Stack-wide guardrails: facts that only hold across resources.

- Row 13: the cache (tier quota per worker x cache nodes) must hold the data sets, whose sizes the
  buckets declare with the ``ack-alluxio-training/dataset-size-gib`` tag; and a MEM tier is charged
  to the worker, so the worker's memory request must cover it.
- Row 3: the FUSE threads must cover the reader threads of the training pods that share a node
  (``ack-alluxio-training/reader-threads`` annotation x workers per node, where workers per node is
  min(workers, GPUs per node / GPUs per worker), GPUs per node declared by the node pool's
  ``ack-alluxio-training/gpus-per-node`` tag or label).
- Buckets must live in the cluster's region: the cache reads OSS over the internal endpoint of its
  own region, and a cross-region read is slow and billed as internet traffic.

A stack policy reads resources' outputs (the engine passes the stack's state), which for these
providers carry the same camelCase keys as the inputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    Severity,
    StackValidationArgs,
)

from ack_alluxio_training.conventions import DATASET_SIZE_TAG, GPUS_PER_NODE_TAG, READER_THREADS_ANNOTATION, REGION_TAG
from ack_alluxio_training.policies.alluxio import where
from ack_alluxio_training.policies.alluxio_deployments import (
    WORKER,
    AlluxioDeployment,
    alluxio_deployment,
    could_be_alluxio,
)
from ack_alluxio_training.policies.fuse import fuse_threads
from ack_alluxio_training.policies.guardrails import Guardrail, StackGuardrail, any_of, config_value, exact_types
from ack_alluxio_training.policies.inputs import as_int, as_text, dig, show, string_map
from ack_alluxio_training.policies.node_pool import NODE_POOL, NodePools
from ack_alluxio_training.policies.storage import BUCKET, bucket_name
from ack_alluxio_training.policies.training import is_training_type
from ack_alluxio_training.policies.workloads import gpus_of, is_training_workload, pod_templates, training_containers
from ack_alluxio_training.quantities import QuantityError, memory_bytes

MANAGED_KUBERNETES: Final = "alicloud:cs/managedKubernetes:ManagedKubernetes"
KUBERNETES_CLUSTER: Final = "alicloud:cs/kubernetes:Kubernetes"
GIB: Final = 2**30


def _deployments(resources: Iterable[PolicyResource]) -> list[tuple[PolicyResource, AlluxioDeployment]]:
    found = []
    for resource in resources:
        deployment = alluxio_deployment(resource.resource_type, resource.props, resource.name)
        if deployment is not None:
            found.append((resource, deployment))
    return found


def _gib(value: int | Decimal) -> str:
    return f"{Decimal(value) / GIB:.1f} GiB"


# --- row 13: the cache holds the data --------------------------------------------------------------


def _dataset_sizes(resources: Iterable[PolicyResource], report: ReportViolation) -> list[tuple[str, int]]:
    sizes = []
    for resource in resources:
        if resource.resource_type != BUCKET:
            continue
        declared = string_map(resource.props.get("tags")).get(DATASET_SIZE_TAG)
        if declared is None:
            continue
        try:
            size = Decimal(declared)
        except InvalidOperation:
            report(f"tag {DATASET_SIZE_TAG}={declared!r} is not a number of GiB", resource.urn)
            continue
        sizes.append((bucket_name(resource), math.ceil(size * GIB)))
    return sizes


def _worker_count(deployment: AlluxioDeployment, pools: NodePools) -> tuple[int | None, str]:
    """Workers of a deployment, and how that number was found (for the message)."""
    if deployment.fluid:
        replicas = deployment.fluid_worker_replicas
        return replicas, f"spec.replicas={replicas}"
    return pools.sure_nodes(deployment.components[WORKER].node_selector)


def _worker_memory(resource: PolicyResource, deployment: AlluxioDeployment, report: ReportViolation) -> None:
    """A MEM tier lives in tmpfs charged to the worker, so the worker's memory request must hold it."""
    mem_quota = sum(t.quota_bytes or 0 for t in deployment.tiers if t.medium.upper() == "MEM")
    if not mem_quota:
        return
    worker = deployment.components[WORKER]
    request = worker.resource("requests", "memory")
    try:
        requested = memory_bytes(request) if request is not None else None
    except QuantityError:
        requested = None
    if requested is None or requested < mem_quota:
        origin = worker.resource_origin("requests", "memory")
        report(f"{where(deployment, worker)}: memory request {show(request)} ({origin}) "
               f"is below the MEM tier quota {_gib(mem_quota)}; tmpfs pages are charged to the worker, which is "
               "then OOM-killed as the cache fills", resource.urn)


def _cache_capacity(args: StackValidationArgs, report: ReportViolation) -> None:
    coverage = Decimal(str(config_value(args, "minCoverage", 1)))
    pools = NodePools(args.resources)
    caches = [(r, d) for r, d in _deployments(args.resources) if d.runs(WORKER)]
    for resource, deployment in caches:
        _worker_memory(resource, deployment, report)
    datasets = _dataset_sizes(args.resources, report)
    if not datasets or not caches:
        return
    capacity = 0
    parts = []
    for resource, deployment in caches:
        per_worker = deployment.cache_bytes_per_worker
        workers, how = _worker_count(deployment, pools)
        if per_worker is None:
            report(f"{where(deployment)}: a tieredstore quota is not a quantity, so the cache size is unknown",
                   resource.urn)
            return
        if workers is None:
            return  # the cache nodes are outside this stack (adopted cluster): nothing to compare
        capacity += per_worker * workers
        parts.append(f"{_gib(per_worker)} x ({how})")
    needed = sum(size for _, size in datasets)
    if capacity < needed * coverage:
        listed = ", ".join(f"{name}: {_gib(size)}" for name, size in datasets)
        target = caches[0][0].urn if len(caches) == 1 else None
        report(f"cache capacity {_gib(capacity)} ({'; '.join(parts)}) is below the data sets' {_gib(needed)} "
               f"x {coverage} ({listed}); raise the tier quota or the cache nodes", target)


ALLUXIO_CACHE_HOLDS_DATASET = StackGuardrail(
    name="alluxio-cache-holds-dataset",
    description=(
        "Tuning row 13: the Alluxio cache (tier quota per worker x cache nodes) must hold every data set "
        "(bucket tag ack-alluxio-training/dataset-size-gib), and each worker's memory request must cover its MEM "
        "tier; a cache smaller than the data set evicts every epoch and reads OSS at full cost."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Make quota x cache nodes >= the data sets' total size (the study: 40 GB x 4 nodes for 144 GB) and the "
        "worker's memory request >= its MEM quota. Stacks of this project: raise "
        "ack-alluxio-training:cache.quotaPerNode or nodePool.desiredSize, and alluxio.worker.memory. Other stacks: "
        "values.tieredstore.levels[].quota, the node pool's desiredSize / scalingConfig.minSize, "
        "values.worker.resources.requests.memory."
    ),
    applies_to=any_of(exact_types(NODE_POOL, BUCKET), could_be_alluxio),
    validate=_cache_capacity,
    rows=(13,),
    config_schema=PolicyConfigSchema(
        properties={"minCoverage": {"type": "number", "minimum": 0, "default": 1,
                                    "description": "Cache capacity must be at least this multiple of the data."}},
    ),
    tags=("alluxio", "capacity"),
)


# --- row 3: FUSE threads cover the readers ---------------------------------------------------------


def _fuse_threads_cover_readers(args: StackValidationArgs, report: ReportViolation) -> None:
    fuses = sorted(
        ((threads, deployment) for _, deployment in _deployments(args.resources)
         if (threads := fuse_threads(deployment)) is not None),
        key=lambda item: item[0],
    )
    if not fuses:
        return  # no FUSE thread count to compare (alluxio-fuse-threads reports a missing one)
    pools = NodePools(args.resources)
    for resource in args.resources:
        if not is_training_type(resource.resource_type):
            continue
        templates = pod_templates(resource.resource_type, resource.props)
        if not is_training_workload(resource.resource_type, templates):
            continue
        readers = [t for t in templates if t.reads_data]
        declared = [n for n in (as_int(t.annotations.get(READER_THREADS_ANNOTATION)) for t in readers) if n is not None]
        if not declared:
            continue
        reader_threads = max(declared)
        workers = sum(t.replicas or 1 for t in readers)
        gpus_per_worker = max((int(gpus_of(c) or 0) for t in readers for _, c in training_containers(t)), default=0)
        selector: dict[str, str] = {}
        for template in readers:
            selector.update(template.node_selector)
        gpus_per_node = pools.most_gpus_per_node(selector)
        if gpus_per_node and gpus_per_worker:
            per_node = max(1, min(workers, gpus_per_node // gpus_per_worker))
            basis = f"min({workers} workers, {gpus_per_node} GPUs per node / {gpus_per_worker} per worker)"
        else:
            per_node = 1
            basis = f"1 (GPUs per node unknown: tag the node pool {GPUS_PER_NODE_TAG})"
        needed = reader_threads * per_node
        # fuses is sorted by threads, so the short ones are a prefix: output-sensitive, not quadratic
        for available, deployment in fuses:
            if available >= needed:
                break
            report(f"{where(deployment)} gives FUSE {available} threads but this job runs {needed} reader threads "
                   f"per node ({READER_THREADS_ANNOTATION}={reader_threads} x {basis} workers per node)",
                   resource.urn)


FUSE_THREADS_COVER_READERS = StackGuardrail(
    name="fuse-threads-cover-readers",
    description=(
        "Tuning row 3: the FUSE threads on a node must be at least the data reader threads of the training pods on "
        "that node, or readers queue behind each other in libfuse."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Give FUSE at least reader threads x workers per node, or lower the job's reader threads. Stacks of this "
        "project: unset ack-alluxio-training:fuse.maxIdleThreads (it is then derived from jobs[].readerThreads) or "
        "raise it. Other stacks: values.fuse.env.MAX_IDLE_THREADS (libfuse 2) or -o max_idle_threads (libfuse 3)."
    ),
    applies_to=any_of(exact_types(NODE_POOL), could_be_alluxio, is_training_type),
    validate=_fuse_threads_cover_readers,
    rows=(3,),
    tags=("fuse", "training"),
)


# --- bucket region equals cluster region -------------------------------------------------------------


def region_of(resource: PolicyResource) -> str | None:
    """A resource's region: its provider's ``region``, else the region tag, else a bucket's location."""
    if resource.provider is not None:
        region = as_text(resource.provider.props.get("region"))
        if region:
            return region
    tagged = string_map(resource.props.get("tags")).get(REGION_TAG)
    if tagged:
        return tagged
    if resource.resource_type == BUCKET:
        location = as_text(resource.props.get("location"))
        if location and location.startswith("oss-"):
            return location[len("oss-"):]
        endpoint = as_text(resource.props.get("intranetEndpoint")) or as_text(dig(resource.props, "extranetEndpoint"))
        if endpoint and endpoint.startswith("oss-"):
            return endpoint[len("oss-"):].split(".", 1)[0].removesuffix("-internal")
    return None


def _same_region(args: StackValidationArgs, report: ReportViolation) -> None:
    clusters = {}
    for resource in args.resources:
        if resource.resource_type in (NODE_POOL, MANAGED_KUBERNETES, KUBERNETES_CLUSTER):
            region = region_of(resource)
            if region:
                clusters[region] = resource.name
    if not clusters:
        return  # the cluster's region is not visible in this stack
    for resource in args.resources:
        if resource.resource_type != BUCKET:
            continue
        region = region_of(resource)
        if region and region not in clusters:
            report(f"bucket {bucket_name(resource)!r} is in {region!r} but the cluster is in "
                   f"{', '.join(repr(r) for r in sorted(clusters))}; the cache reads OSS over the internal endpoint "
                   "of its own region", resource.urn)


BUCKET_IN_CLUSTER_REGION = StackGuardrail(
    name="bucket-in-cluster-region",
    description=(
        "Data set buckets must be in the cluster's region: Alluxio reads OSS through the region's internal endpoint; "
        "a bucket elsewhere is read over the internet, slower and billed as outbound traffic."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Create the bucket with a provider of the cluster's region (or copy the data set there); the DatasetBucket "
        f"component tags buckets and node pools with {REGION_TAG}."
    ),
    applies_to=exact_types(BUCKET, NODE_POOL, MANAGED_KUBERNETES, KUBERNETES_CLUSTER),
    validate=_same_region,
    tags=("oss", "region"),
)


# --- chart fact: releases in one namespace need distinct full names -------------------------------

def _distinct_names(args: StackValidationArgs, report: ReportViolation) -> None:
    seen: dict[tuple[str, str], str] = {}
    for resource, deployment in _deployments(args.resources):
        if deployment.fluid:
            continue
        fullname = as_text(deployment.chart("fullnameOverride").value) or deployment.name
        key = (deployment.namespace, fullname)
        if key in seen:
            report(f"{where(deployment)} and {seen[key]} both render objects named {fullname!r} "
                   f"(alluxio-config, services, ...) in namespace {deployment.namespace!r}; give this release its own "
                   "values.fullnameOverride", resource.urn)
        else:
            seen[key] = where(deployment)


ALLUXIO_RELEASE_NAMES_DISTINCT = StackGuardrail(
    name="alluxio-release-names-distinct",
    description=(
        "Alluxio chart releases that share a namespace need distinct full names: the chart defaults "
        "fullnameOverride to 'alluxio', so a second release (the FUSE one) would render clashing objects such as "
        "alluxio-config and overwrite the cache's configuration."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set values.fullnameOverride to a name of its own (e.g. alluxio-fuse) in every release but one.",
    applies_to=could_be_alluxio,
    validate=_distinct_names,
    tags=("alluxio",),
)


POLICIES: Final[list[Guardrail]] = [
    ALLUXIO_CACHE_HOLDS_DATASET,
    FUSE_THREADS_COVER_READERS,
    BUCKET_IN_CLUSTER_REGION,
    ALLUXIO_RELEASE_NAMES_DISTINCT,
]
