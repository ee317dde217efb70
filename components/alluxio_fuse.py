"""AlluxioFuse: the tuned Alluxio-FUSE DaemonSet, a Helm release of its own on the cache nodes.

A second release of the same official chart with only FUSE enabled, so the cache can be upgraded
without touching the mount the training pods read through (and the other way round). It lives in
the cache's namespace: chart 0.6.53's FUSE DaemonSet has a required podAffinity to pods labelled
``app=alluxio, role=alluxio-worker`` in its own namespace, so in any other namespace it would never
be scheduled. Its own release name and ``fullnameOverride`` keep its objects apart from the cache's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Final, Protocol

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import TypedDict

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import release_hardening, tuning, versions
from ack_alluxio_training.scheduling import CachePlacement
from ack_alluxio_training.settings import PROJECT, PlatformSettings, SettingsError

TYPE_TOKEN: Final = "ack-alluxio-training:index:AlluxioFuse"
#: Seconds Helm waits for the FUSE DaemonSet on every cache node.
RELEASE_TIMEOUT_SECONDS: Final = 600


class AlluxioFuseArgs(TypedDict):
    """Inputs of :class:`AlluxioFuse`.

    Fields that feed a tuning derivation are plain values, so the tuned Helm values are known at
    preview time and the policy pack can check them.
    """

    namespace: pulumi.Input[str]
    """Namespace of the cache release (required by the chart's podAffinity to the workers)."""
    master_hostname: pulumi.Input[str]
    """DNS name of the cache's master."""
    alluxio_version: str
    """Alluxio image tag (2.9.x), the same as the cache's."""
    chart_version: str
    """Version of the official ``alluxio`` chart."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """nodeSelector of the GPU cache nodes (the node pool's)."""
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Tolerations of the GPU cache nodes' taint (the node pool's)."""
    cache_host_path: pulumi.Input[str]
    """The workers' tier directory; FUSE mounts it too, so short-circuit is a file read (row 10)."""
    tier: av.CacheTier
    """The cache's tier, rendered identically so the chart mounts the same host path."""
    resources: av.ContainerResources
    """cpu and memory of the FUSE container (rows 11-12, heap for row 7)."""
    client_properties: Mapping[str, str]
    """Rows 4-9 (``tuning.tuned_client_properties``); the FUSE process is the client that matters."""
    mount_point: str
    """Host path of the mount the training pods read."""
    entry_timeout_seconds: int
    """Row 2: kernel dentry cache TTL."""
    attr_timeout_seconds: int
    """Row 2: kernel attribute cache TTL."""
    read_only: bool
    """Every dataset behind the mount is read-only: mount ``ro`` with ``kernel_cache``."""
    extra_mount_options: Sequence[str]
    """More ``-o`` options, one per item."""
    libfuse_version: int
    """Row 3: 2 (the image's patched libfuse2) or 3."""
    max_idle_threads: int
    """Row 3: FUSE threads, at least the training reader threads per node."""


class FuseCache(Protocol):
    """What FUSE reads from the AlluxioCache component."""

    @property
    def namespace(self) -> pulumi.Output[str]: ...

    @property
    def master_hostname(self) -> pulumi.Output[str]: ...


def alluxio_fuse_args(settings: PlatformSettings, node_pool: CachePlacement, cache: FuseCache) -> AlluxioFuseArgs:
    """Map validated settings, the node pool and the cache onto FUSE's args."""
    fuse = settings.fuse
    client = av.client_properties(settings)
    resources = av.fuse_resources(settings)
    cache_entries = int(client[tuning.KEY_METADATA_CACHE_MAX_SIZE])
    problems: list[str] = []
    # Every check that can refuse a value the chart would render wrongly, named by its stack key.
    for key, check in (
        ("fuse.resources.memory", partial(tuning.fuse_jvm_memory_options, resources["memory"], cache_entries)),
        ("fuse.mountPoint", partial(av.fuse_mount_parent, fuse.mount_point)),
        ("fuse.extraMountOptions", partial(av.check_fuse_mount_options, fuse.extra_mount_options)),
        ("cache.hostPath", partial(av.check_java_opts_value, settings.cache.host_path, "cache host path")),
    ):
        try:
            check()
        except ValueError as exc:
            problems.append(f"{PROJECT}:{key}: {exc}")
    if problems:
        raise SettingsError(problems)
    return AlluxioFuseArgs(
        namespace=cache.namespace,
        master_hostname=cache.master_hostname,
        alluxio_version=settings.alluxio.version,
        chart_version=settings.alluxio.chart_version,
        node_selector=node_pool.node_selector,
        tolerations=node_pool.tolerations,
        cache_host_path=node_pool.cache_host_path,
        tier=av.cache_tier(settings),
        resources=resources,
        client_properties=client,
        mount_point=fuse.mount_point,
        entry_timeout_seconds=fuse.entry_timeout_seconds,
        attr_timeout_seconds=fuse.attr_timeout_seconds,
        read_only=all(d.read_only for d in settings.datasets),
        extra_mount_options=list(fuse.extra_mount_options),
        libfuse_version=fuse.libfuse_version,
        max_idle_threads=av.fuse_max_idle_threads_for(settings),
    )


class AlluxioFuse(pulumi.ComponentResource):
    """The tuned FUSE release (rows 2, 3, 4-9 as the client, 10, 11, 12)."""

    release: k8s.helm.v3.Release
    namespace: pulumi.Output[str]
    mount_point: pulumi.Output[str]
    max_idle_threads: pulumi.Output[int]

    def __init__(self, name: str, args: AlluxioFuseArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        options = tuning.fuse_mount_options(
            entry_timeout_seconds=args["entry_timeout_seconds"],
            attr_timeout_seconds=args["attr_timeout_seconds"],
            read_only=args["read_only"],
            libfuse_version=args["libfuse_version"],
            max_idle_threads=args["max_idle_threads"],
            extra=args["extra_mount_options"],
        )
        values = av.fuse_release_values(
            alluxio_version=args["alluxio_version"],
            master_host=args["master_hostname"],
            resources=args["resources"],
            tier=args["tier"],
            cache_host_path=args["cache_host_path"],
            node_selector=args["node_selector"],
            tolerations=args["tolerations"],
            client_properties=args["client_properties"],
            mount_point=args["mount_point"],
            mount_options=options,
            libfuse_version=args["libfuse_version"],
            max_idle_threads=args["max_idle_threads"],
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                chart=versions.ALLUXIO_CHART_NAME,
                version=args["chart_version"],
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(
                    repo=versions.alluxio_chart_repository(args["alluxio_version"])
                ),
                name=av.FUSE_RELEASE_NAME,
                namespace=args["namespace"],
                values=values,
                timeout=RELEASE_TIMEOUT_SECONDS,
                max_history=10,
                # Hardens the chart's hard-coded pod specs on their way to the cluster (SECURITY.md).
                postrender=release_hardening.POSTRENDER_COMMAND,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.namespace = pulumi.Output.from_input(args["namespace"])
        self.mount_point = pulumi.Output.from_input(args["mount_point"])
        self.max_idle_threads = pulumi.Output.from_input(args["max_idle_threads"])
        self.register_outputs(
            {
                "namespace": self.namespace,
                "mountPoint": self.mount_point,
                "maxIdleThreads": self.max_idle_threads,
            }
        )
