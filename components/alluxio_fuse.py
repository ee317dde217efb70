"""AlluxioFuse: the tuned Alluxio-FUSE DaemonSet, a Helm release of its own on the cache nodes.

A second release of the same official chart with only FUSE enabled, so the cache can be upgraded
without touching the mount the training pods read through (and the other way round). It lives in
the cache's namespace: chart 0.6.53's FUSE DaemonSet has a required podAffinity to pods labelled
``app=alluxio, role=alluxio-worker`` in its own namespace, so in any other namespace it would never
be scheduled. Its own release name and ``fullnameOverride`` keep its objects apart from the cache's.

Used alone, it takes the same dataset profiles and tier as the cache and the training jobs' reader
threads, and derives rows 2, 3 and 4-9 itself (``alluxio_inputs``, ``tuning``).
"""

from collections.abc import Mapping, Sequence
from typing import Any, Final, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ack_alluxio_training import alluxio_inputs as inputs
from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import release_hardening, scheduling, tuning, versions
from ack_alluxio_training.alluxio_args import (
    CacheTierArgs,
    ClientTuningArgs,
    ContainerResources,
    DatasetProfile,
    ReaderJob,
)
from ack_alluxio_training.cluster_access import children_options

TYPE_TOKEN: Final = "ack-alluxio-training:index:AlluxioFuse"
#: Seconds Helm waits for the FUSE DaemonSet on every cache node.
RELEASE_TIMEOUT_SECONDS: Final = 600


class AlluxioFuseArgs(TypedDict, total=False):
    """Inputs of AlluxioFuse: where the cache is, what is behind the mount and who reads it.

    Values that feed a tuning derivation are plain, so the tuned Helm values are known at preview
    time and the policy pack can check them.
    """

    namespace: Required[pulumi.Input[str]]
    """Namespace of the cache release (the chart's FUSE pods need a worker of their own namespace on the node)."""
    master_hostname: Required[pulumi.Input[str]]
    """DNS name of the cache's master (AlluxioCache's master_hostname)."""
    datasets: Required[Sequence[DatasetProfile]]
    """Profiles of the datasets behind the mount, as given to the cache (rows 2 and 7)."""
    jobs: Sequence[ReaderJob]
    """The training jobs that read through the mount; their reader threads size FUSE's threads (row 3)."""
    gpus_per_node: int
    """GPUs on each cache node (default 8): bounds how many of a job's pods share one FUSE daemon."""
    max_idle_threads: int
    """Row 3 override: FUSE threads (default: derived from jobs, or 64 without jobs)."""
    tier: CacheTierArgs
    """The cache's tier, exactly as given to AlluxioCache: FUSE mounts the same host path (row 10)."""
    client: ClientTuningArgs
    """Client tuning overrides, as given to AlluxioCache (rows 4-9; FUSE is the client that matters)."""
    resources: ContainerResources
    """cpu and memory of the FUSE container (default 8 cpu, 16Gi); the heap must hold the metadata cache."""
    mount_point: str
    """Host path of the mount the training pods read (default /mnt/alluxio/fuse; its parent must be its own)."""
    entry_timeout_seconds: int
    """Row 2: kernel dentry cache TTL (default 7200, at least 600)."""
    attr_timeout_seconds: int
    """Row 2: kernel attribute cache TTL (default 7200, at least 600)."""
    extra_mount_options: Sequence[str]
    """More -o options, one per item."""
    libfuse_version: int
    """Row 3: 2 (default, the image's patched libfuse2) or 3."""
    alluxio_version: str
    """Alluxio image tag, the same as the cache's (default 2.9.5)."""
    chart_version: str
    """Version of the official alluxio chart (default 0.6.53)."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """nodeSelector of the cache nodes (default: the label GpuNodePool puts on its nodes)."""
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Tolerations of the cache nodes' taints (default: GpuNodePool's GPU taint)."""
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of an existing cluster; without it the caller's (or the default) Kubernetes provider is used."""


def _fuse_values(args: AlluxioFuseArgs, where: str) -> dict[str, Any]:
    """Validated FUSE settings (defaults filled) and the tuned values derived from them."""
    datasets = list(args["datasets"])
    inputs.check_profiles(datasets, where + "datasets")
    fuse = inputs.fuse_settings(
        {
            key: args[key]  # type: ignore[literal-required]
            for key in (
                "mount_point", "entry_timeout_seconds", "attr_timeout_seconds", "extra_mount_options",
                "libfuse_version", "max_idle_threads", "resources",
            )
            if key in args
        },
        where.rstrip(": "),
    )
    tier_settings = inputs.cache_tier(args.get("tier"), where + "tier")
    client = inputs.client_properties(datasets, args.get("client"), where + "client")
    resources = ContainerResources(cpu=fuse.resources.cpu, memory=fuse.resources.memory)
    inputs.checked(
        f"{where}resources.memory", tuning.fuse_jvm_memory_options, resources["memory"],
        int(client[tuning.KEY_METADATA_CACHE_MAX_SIZE]),
    )
    inputs.checked(f"{where}mount_point", av.fuse_mount_parent, fuse.mount_point)
    inputs.checked(f"{where}extra_mount_options", av.check_fuse_mount_options, fuse.extra_mount_options)
    inputs.checked(f"{where}tier.host_path", av.check_java_opts_value, tier_settings.host_path, "cache host path")
    threads = fuse.max_idle_threads
    if threads is None:
        gpus_per_node = int(args.get("gpus_per_node", inputs.default_gpus_per_node()))
        threads = inputs.fuse_threads(list(args.get("jobs", [])), gpus_per_node, where + "jobs")
    return {
        "fuse": fuse,
        "tier": av.tier_of(tier_settings),
        "host_path": tier_settings.host_path,
        "client": client,
        "resources": resources,
        "read_only": all(d.get("read_only", True) for d in datasets),
        "threads": threads,
    }


class AlluxioFuse(pulumi.ComponentResource):
    """The tuned Alluxio-FUSE DaemonSet (rows 2, 3, 4-9 as the client, 10, 11, 12) beside an AlluxioCache.

    Prerequisites: an AlluxioCache (or the same chart's workers) in ``namespace``; nodes with a
    kernel >= 4.19 (row 1: Alibaba Cloud Linux 3/4, which GpuNodePool enforces); the tier's host
    path on every node, as for the cache; and the mount point's parent directory free for a
    bidirectional host mount. FUSE pods run privileged, so the namespace allows privileged pods.
    """

    namespace: pulumi.Output[str]
    """Namespace of the FUSE release (the cache's)."""
    mount_point: pulumi.Output[str]
    """Host path of the mount; training pods mount it by hostPath."""
    max_idle_threads: pulumi.Output[int]
    """FUSE threads the release runs with (row 3)."""

    def __init__(self, name: str, args: AlluxioFuseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        where = f"AlluxioFuse {name!r}: "
        resolved = _fuse_values(args, where)
        fuse = resolved["fuse"]
        release = inputs.alluxio_release(
            {
                key: value
                for key, value in (
                    ("version", args.get("alluxio_version")),
                    ("chart_version", args.get("chart_version")),
                )
                if value is not None
            },
            where.rstrip(": "),
        )
        options = tuning.fuse_mount_options(
            entry_timeout_seconds=fuse.entry_timeout_seconds,
            attr_timeout_seconds=fuse.attr_timeout_seconds,
            read_only=resolved["read_only"],
            libfuse_version=fuse.libfuse_version,
            max_idle_threads=resolved["threads"],
            extra=fuse.extra_mount_options,
        )
        values = av.fuse_release_values(
            alluxio_version=release.version,
            master_host=args["master_hostname"],
            resources=resolved["resources"],
            tier=resolved["tier"],
            cache_host_path=resolved["host_path"],
            node_selector=args.get("node_selector", scheduling.node_selector()),
            tolerations=args.get("tolerations", scheduling.tolerations()),
            client_properties=resolved["client"],
            mount_point=fuse.mount_point,
            mount_options=options,
            libfuse_version=fuse.libfuse_version,
            max_idle_threads=resolved["threads"],
        )
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = children_options(self, name, args.get("kubeconfig"))
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                chart=versions.ALLUXIO_CHART_NAME,
                version=release.chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.alluxio_chart_repository(release.version)),
                name=av.FUSE_RELEASE_NAME,
                namespace=args["namespace"],
                values=values,
                timeout=RELEASE_TIMEOUT_SECONDS,
                max_history=10,
                # Hardens the chart's hard-coded pod specs on their way to the cluster (SECURITY.md).
                postrender=release_hardening.POSTRENDER_COMMAND,
            ),
            opts=child,
        )
        self.namespace = pulumi.Output.from_input(args["namespace"])
        self.mount_point = pulumi.Output.from_input(fuse.mount_point)
        self.max_idle_threads = pulumi.Output.from_input(resolved["threads"])
        self.register_outputs(
            {
                "namespace": self.namespace,
                "mountPoint": self.mount_point,
                "maxIdleThreads": self.max_idle_threads,
            }
        )
