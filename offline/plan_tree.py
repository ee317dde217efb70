"""A readable, preview-like tree of the planned resources with their key settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ack_alluxio_training import tuning
from ack_alluxio_training.conventions import GPUS_PER_NODE_TAG
from ack_alluxio_training.durations import format_duration
from ack_alluxio_training.offline.mock_engine import PlanResult, RecordedResource, unwrap_secrets
from ack_alluxio_training.quantities import QuantityError, gibibytes

Summary = Callable[[dict[str, Any]], str]


def _join(*parts: str | None) -> str:
    return ", ".join(p for p in parts if p)


def _node_pool(i: dict[str, Any]) -> str:
    gpus = (i.get("tags") or {}).get(GPUS_PER_NODE_TAG)
    scaling = i.get("scalingConfig") or {}
    size = (
        f"{scaling.get('minSize')}-{scaling.get('maxSize')} nodes (autoscaling)"
        if scaling.get("enable")
        else f"{i.get('desiredSize')} nodes"
    )
    return _join(
        f"{size} x {','.join(i.get('instanceTypes', []))}",
        f"{gpus} GPUs each" if gpus else None,
        f"image {i.get('imageType')}",
        f"cpu manager {(i.get('kubeletConfiguration') or {}).get('cpuManagerPolicy')}",
    )


def _release(i: dict[str, Any]) -> str:
    values = i.get("values") or {}
    parts = [p for p in ("master", "worker", "fuse") if (values.get(p) or {}).get("enabled", p != "fuse")]
    details = [f"chart {i.get('chart')} {i.get('version')}", f"ns {i.get('namespace')}", "parts " + "+".join(parts)]
    levels = (values.get("tieredstore") or {}).get("levels") or []
    if levels and "worker" in parts:
        tier = levels[0]
        details.append(f"tier {tier.get('alias')} {_gib(tier.get('quota'))} {tier.get('type')}")
    fuse = values.get("fuse") or {}
    if "fuse" in parts:
        threads = (fuse.get("env") or {}).get("MAX_IDLE_THREADS")
        details.append(f"mount {fuse.get('mountPoint')} -o {fuse.get('mountOptions')}")
        if threads:
            details.append(f"MAX_IDLE_THREADS={threads}")
        properties = fuse.get("properties") or values.get("properties") or {}
        entries = properties.get(tuning.KEY_METADATA_CACHE_MAX_SIZE)
        if entries:
            expiration = properties.get(tuning.KEY_METADATA_CACHE_EXPIRATION)
            details.append(f"metadata cache {entries} entries, expires {expiration}")
    return _join(*details)


def _gib(quota: Any) -> str:
    try:
        return f"{gibibytes(quota):g}Gi"
    except (QuantityError, TypeError):
        return str(quota)


def _custom_resource(i: dict[str, Any]) -> str:
    spec = i.get("spec") or {}
    replicas = []
    for key in ("mpiReplicaSpecs", "tfReplicaSpecs", "pytorchReplicaSpecs"):
        for role, replica in (spec.get(key) or {}).items():
            replicas.append(f"{role} x{replica.get('replicas', 1)}")
    return _join(f"{i.get('apiVersion')}/{i.get('kind')}", " ".join(replicas) or None)


SUMMARIES: dict[str, Summary] = {
    "alicloud:cs/nodePool:NodePool": _node_pool,
    "alicloud:cs/managedKubernetes:ManagedKubernetes": lambda i: _join(i.get("clusterSpec"), i.get("version")),
    "alicloud:oss/bucket:Bucket": lambda i: _join(f"bucket {i.get('bucket')}"),
    "alicloud:oss/bucketAcl:BucketAcl": lambda i: _join(f"acl {i.get('acl')}"),
    "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption": lambda i: _join(i.get("sseAlgorithm")),
    "alicloud:oss/bucketVersioning:BucketVersioning": lambda i: _join(i.get("status")),
    "kubernetes:helm.sh/v3:Release": _release,
    "kubernetes:core/v1:Namespace": lambda i: (i.get("metadata") or {}).get("name", ""),
    "kubernetes:batch/v1:Job": lambda i: _join("batch/v1 Job", (i.get("metadata") or {}).get("name")),
}


def summary(resource: RecordedResource) -> str:
    """Key settings of one resource, never a secret value."""
    if resource.secret_input_paths and resource.type.endswith(":Secret"):
        return "secret data (redacted)"
    inputs = unwrap_secrets(resource.raw_inputs) if not resource.secret_input_paths else _without_secrets(resource)
    if resource.type in SUMMARIES:
        return SUMMARIES[resource.type](inputs)
    if resource.type.startswith("kubernetes:") and "spec" in inputs:
        return _custom_resource(inputs)
    return ""


def _without_secrets(resource: RecordedResource) -> dict[str, Any]:
    from ack_alluxio_training.offline.mock_engine import redact_secrets

    redacted = redact_secrets(resource.raw_inputs)
    return redacted if isinstance(redacted, dict) else {}


def _flags(resource: RecordedResource) -> str:
    flags = []
    if resource.protect:
        flags.append("protected")
    if resource.retain_on_delete:
        flags.append("retain-on-delete")
    return f" [{', '.join(flags)}]" if flags else ""


def render_tree(result: PlanResult, stack_name: str) -> str:
    """The planned resources as a tree, like ``pulumi preview``'s."""
    children: dict[str, list[RecordedResource]] = {}
    urns = {r.urn for r in result.resources}
    roots: list[RecordedResource] = []
    for resource in result.resources:
        if resource.parent in urns:
            children.setdefault(resource.parent, []).append(resource)
        else:
            roots.append(resource)
    lines = [f" +  pulumi:pulumi:Stack  {stack_name}"]

    def walk(nodes: list[RecordedResource], indent: str) -> None:
        for index, node in enumerate(nodes):
            last = index == len(nodes) - 1
            branch = "└─ " if last else "├─ "
            detail = summary(node)
            lines.append(
                f" +  {indent}{branch}{node.type}  {node.name}{_flags(node)}" + (f"  ({detail})" if detail else "")
            )
            walk(children.get(node.urn, []), indent + ("   " if last else "│  "))

    walk(roots, "")
    lines.append(f"\nResources: {len(result.resources) + 1} to create")
    return "\n".join(lines)


def metadata_cache_note(datasets: list[tuning.DatasetMetadata], headroom: float) -> str:
    """Row 7 in words: how the one client metadata cache is sized and why it expires when it does."""
    cache = tuning.metadata_cache(datasets, headroom)
    files = " + ".join(f"{d.file_count} ({d.name})" for d in datasets)
    heap = f"{cache.heap_bytes / 2**20:,.0f} MiB"
    intervals = ", ".join(f"{d.name} {format_duration(int(d.change_interval_seconds))}" for d in datasets)
    why = (f"the shortest change interval ({intervals}), so no dataset is served stale metadata longer than its own"
           if len(datasets) > 1 else f"the change interval of {datasets[0].name}")
    return (f"Client metadata cache (row 7): {cache.max_size} entries for {files} files x {headroom:g} headroom "
            f"(about {heap} of FUSE heap); expires after {format_duration(cache.expiration_seconds)}, {why}.")
