"""AlluxioCache: the tuned Alluxio master/worker release on the GPU cache nodes.

One Namespace, one Secret with the OSS credentials, one Helm release of the official chart (FUSE
off; it is its own release, see ``alluxio_fuse.py``), a Job that mounts every dataset but the first
and, when asked, a Job that loads the datasets into the cache before training. The Helm values are
built by ``alluxio_values`` (pure); this module only wires Pulumi resources around them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Final, Protocol

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import TypedDict

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import network_policies, release_hardening, tuning, versions
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.scheduling import CachePlacement
from ack_alluxio_training.settings import PROJECT, PlatformSettings, SettingsError

TYPE_TOKEN: Final = "ack-alluxio-training:index:AlluxioCache"
#: Seconds Helm waits for the master StatefulSet and the worker DaemonSet (image pulls included).
RELEASE_TIMEOUT_SECONDS: Final = 900
#: Pulumi waits for the Jobs to complete; the warm-up reads the whole data set from OSS.
MOUNT_JOB_TIMEOUT: Final = "30m"
WARMUP_JOB_TIMEOUT: Final = "4h"


class DatasetMount(TypedDict):
    """One dataset as the cache mounts it; the first one becomes the root mount."""

    name: str
    """Dataset name; datasets after the first appear at ``/<name>``."""
    ufs_uri: pulumi.Input[str]
    """``oss://<bucket>/<prefix>/``."""
    endpoint: pulumi.Input[str]
    """OSS internal endpoint of the cluster's region (``oss-<region>-internal.aliyuncs.com``)."""
    access_key_id: pulumi.Input[str]
    """Read-only access key id; kept in the credentials Secret only."""
    access_key_secret: pulumi.Input[str]
    """Its secret; kept in the credentials Secret only."""
    read_only: bool
    """Training only reads it (a read-only mount)."""
    size_bytes: int
    """Size of the data, checked against the cache capacity (row 13)."""


class AlluxioCacheArgs(TypedDict):
    """Inputs of :class:`AlluxioCache`.

    Fields that feed a tuning derivation (resources, tier, client properties) are plain values, so
    the tuned Helm values are known at preview time and the policy pack can check them.
    """

    namespace: str
    """Namespace the component creates for the release and its Jobs."""
    alluxio_version: str
    """Alluxio image tag (2.9.x)."""
    chart_version: str
    """Version of the official ``alluxio`` chart."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """nodeSelector of the GPU cache nodes (the node pool's)."""
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Tolerations of the GPU cache nodes' taint (the node pool's)."""
    cache_host_path: pulumi.Input[str]
    """Host directory of the cache tier on every cache node (shared with FUSE, row 10)."""
    tier: av.CacheTier
    """Medium, quota per node and watermarks of the tier."""
    resources: av.CacheResources
    """cpu and memory of master, job master, worker and job worker."""
    journal: av.Journal
    """StorageClass and size of the master's journal volume."""
    client_properties: Mapping[str, str]
    """Rows 4-9 (``tuning.tuned_client_properties``)."""
    datasets: Sequence[DatasetMount]
    """Datasets to mount; the first is the root mount."""
    cache_nodes: int
    """Nodes that are sure to hold a worker (for the capacity warning, row 13)."""
    warmup: bool
    """Run ``distributedLoad`` for every dataset before training."""


class BucketOutputs(Protocol):
    """What the cache reads from a DatasetBucket component."""

    @property
    def ufs_uri(self) -> pulumi.Output[str]: ...

    @property
    def internal_endpoint(self) -> pulumi.Output[str]: ...

    @property
    def access_key_id(self) -> pulumi.Output[str]: ...

    @property
    def access_key_secret(self) -> pulumi.Output[str]: ...


def _checked(key: str, check: Callable[[], object]) -> None:
    """Turn a derivation's refusal into a config error that names the stack key."""
    try:
        check()
    except ValueError as exc:
        raise SettingsError([f"{PROJECT}:{key}: {exc}"]) from None


def alluxio_cache_args(
    settings: PlatformSettings, node_pool: CachePlacement, buckets: Mapping[str, BucketOutputs]
) -> AlluxioCacheArgs:
    """Map validated settings, the node pool and the dataset buckets onto the cache's args."""
    resources = av.cache_resources(settings)
    tier = av.cache_tier(settings)
    for key, container in (
        ("alluxio.master", resources["master"]),
        ("alluxio.jobMaster", resources["job_master"]),
        ("alluxio.jobWorker", resources["job_worker"]),
    ):
        _checked(f"{key}.memory", partial(av.jvm_options, container))
    _checked("alluxio.worker.memory", partial(av.jvm_options, resources["worker"], av.tier_reserved_bytes(tier)))
    # Values the chart renders into its one-line java opts (the root UFS URI embeds the first prefix).
    _checked("cache.hostPath", partial(av.check_java_opts_value, settings.cache.host_path, "cache host path"))
    if settings.datasets:
        _checked("datasets[0].prefix", partial(av.check_java_opts_value, settings.datasets[0].prefix, "prefix"))
    datasets = [
        DatasetMount(
            name=dataset.name,
            ufs_uri=buckets[dataset.name].ufs_uri,
            endpoint=buckets[dataset.name].internal_endpoint,
            access_key_id=buckets[dataset.name].access_key_id,
            access_key_secret=buckets[dataset.name].access_key_secret,
            read_only=dataset.read_only,
            size_bytes=dataset.size_bytes,
        )
        for dataset in settings.datasets
    ]
    return AlluxioCacheArgs(
        namespace=settings.alluxio.namespace,
        alluxio_version=settings.alluxio.version,
        chart_version=settings.alluxio.chart_version,
        node_selector=node_pool.node_selector,
        tolerations=node_pool.tolerations,
        cache_host_path=node_pool.cache_host_path,
        tier=tier,
        resources=resources,
        journal=av.Journal(storage_class=settings.alluxio.journal_storage_class, size=settings.alluxio.journal_size),
        client_properties=av.client_properties(settings),
        datasets=datasets,
        cache_nodes=settings.node_pool.cache_nodes,
        warmup=settings.warmup_enabled,
    )


def _credentials_data(datasets: Sequence[DatasetMount]) -> pulumi.Output[dict[str, str]]:
    """The Secret's content: the root mount's site file, and each nested mount's key pair."""
    parts: list[pulumi.Input[str]] = []
    for dataset in datasets:
        parts += [dataset["access_key_id"], dataset["access_key_secret"]]

    def render(values: list[str]) -> dict[str, str]:
        data = {av.SITE_PROPERTIES_FILE: av.site_properties(values[0], values[1])}
        for i, dataset in enumerate(datasets[1:], start=1):
            id_key, secret_key = av.secret_key_names(dataset["name"])
            data[id_key], data[secret_key] = values[2 * i], values[2 * i + 1]
        return data

    return pulumi.Output.secret(pulumi.Output.all(*parts).apply(render))


class AlluxioCache(pulumi.ComponentResource):
    """The tuned Alluxio master/worker release (rows 4-13), its credentials, mounts and warm-up."""

    namespace: pulumi.Output[str]
    release_name: pulumi.Output[str]
    master_hostname: pulumi.Output[str]
    release: k8s.helm.v3.Release
    credentials: k8s.core.v1.Secret
    network_policies: list[k8s.networking.v1.NetworkPolicy]
    mount_job: k8s.batch.v1.Job | None
    warmup_job: k8s.batch.v1.Job | None

    def __init__(self, name: str, args: AlluxioCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        datasets = list(args["datasets"])
        if not datasets:
            raise ValueError("AlluxioCache needs at least one dataset (the root mount)")
        child = pulumi.ResourceOptions(parent=self)

        shortfall = tuning.cache_shortfall_message(
            memory_bytes(args["tier"]["quota"]), args["cache_nodes"], sum(d["size_bytes"] for d in datasets)
        )
        if shortfall:
            pulumi.log.warn(shortfall, resource=self)

        labels = {"app.kubernetes.io/part-of": "ack-alluxio-training"}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args["namespace"],
                # Explicit, visible opt-out: workers use hostNetwork and FUSE runs privileged here.
                "labels": {**labels, "pod-security.kubernetes.io/enforce": "privileged"},
            },
            opts=child,
        )
        self.namespace = namespace.metadata.name
        # Default deny, then the master's ports and the CLI Jobs' way to it (network_policies.py);
        # the host-network workers and FUSE are outside any NetworkPolicy's reach.
        self.network_policies = [
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy['metadata']['name']}", metadata=policy["metadata"], spec=policy["spec"], opts=child
            )
            for policy in network_policies.alluxio_namespace_policies(self.namespace)
        ]
        self.master_hostname = self.namespace.apply(lambda ns: av.master_hostname(av.CACHE_RELEASE_NAME, ns))

        # The access keys live only here (a Pulumi secret, a Kubernetes Secret); the chart mounts
        # it into the master and the master reads the root mount's keys from it (docs/alluxio-credentials.md).
        self.credentials = k8s.core.v1.Secret(
            f"{name}-ufs-credentials",
            metadata={"name": av.CREDENTIALS_SECRET_NAME, "namespace": self.namespace, "labels": labels},
            type="Opaque",
            string_data=_credentials_data(datasets),
            opts=child,
        )

        root = datasets[0]
        values = av.cache_release_values(
            alluxio_version=args["alluxio_version"],
            resources=args["resources"],
            tier=args["tier"],
            cache_host_path=args["cache_host_path"],
            node_selector=args["node_selector"],
            tolerations=args["tolerations"],
            client_properties=args["client_properties"],
            root_ufs_uri=root["ufs_uri"],
            root_endpoint=root["endpoint"],
            root_read_only=root["read_only"] and len(datasets) == 1,
            journal=args["journal"],
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                chart=versions.ALLUXIO_CHART_NAME,
                version=args["chart_version"],
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(
                    repo=versions.alluxio_chart_repository(args["alluxio_version"])
                ),
                name=av.CACHE_RELEASE_NAME,
                namespace=self.namespace,
                values=values,
                timeout=RELEASE_TIMEOUT_SECONDS,
                max_history=10,
                # Hardens the chart's hard-coded pod specs on their way to the cluster (SECURITY.md).
                postrender=release_hardening.POSTRENDER_COMMAND,
            ),
            # The values name the Secret (a map key cannot be an Output), so order it explicitly.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.credentials]),
        )
        self.release_name = self.release.name.apply(lambda n: n or av.CACHE_RELEASE_NAME)

        java_opts = self.master_hostname.apply(av.master_java_opts)
        ready: list[pulumi.Resource] = [self.release]
        self.mount_job = None
        if len(datasets) > 1:
            mounts = [
                av.NestedMount(
                    name=d["name"],
                    alluxio_path=av.alluxio_path(i, d["name"]),
                    ufs_uri=d["ufs_uri"],
                    endpoint=d["endpoint"],
                    read_only=d["read_only"],
                )
                for i, d in enumerate(datasets)
                if i > 0
            ]
            manifest = av.mount_job_manifest(
                alluxio_version=args["alluxio_version"],
                namespace=self.namespace,
                java_opts=java_opts,
                mounts=mounts,
                credentials_secret_name=self.credentials.metadata.name,
                tolerations=args["tolerations"],
            )
            self.mount_job = k8s.batch.v1.Job(
                f"{name}-mount",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=[self.release],
                    custom_timeouts=pulumi.CustomTimeouts(create=MOUNT_JOB_TIMEOUT),
                ),
            )
            ready.append(self.mount_job)

        self.warmup_job = None
        if args["warmup"]:
            manifest = av.warmup_job_manifest(
                alluxio_version=args["alluxio_version"],
                namespace=self.namespace,
                java_opts=java_opts,
                paths=[av.alluxio_path(i, d["name"]) for i, d in enumerate(datasets)],
                tolerations=args["tolerations"],
            )
            self.warmup_job = k8s.batch.v1.Job(
                f"{name}-warmup",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=ready, custom_timeouts=pulumi.CustomTimeouts(create=WARMUP_JOB_TIMEOUT)
                ),
            )

        self.register_outputs(
            {
                "namespace": self.namespace,
                "releaseName": self.release_name,
                "masterHostname": self.master_hostname,
                "warmup": args["warmup"],
            }
        )
