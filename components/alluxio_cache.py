"""AlluxioCache: the tuned Alluxio master/worker release on the GPU cache nodes.

One Namespace, one Secret with the OSS credentials, one Helm release of the official chart (FUSE
off; it is its own release, see ``alluxio_fuse.py``), a Job that mounts every dataset but the first
and, when asked, a Job that loads the datasets into the cache before training. The Helm values are
built by ``alluxio_values`` (pure); this module only wires Pulumi resources around them.
"""

from collections.abc import Mapping, Sequence
from typing import Final, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ack_alluxio_training import alluxio_inputs as inputs
from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import network_policies, release_hardening, scheduling, tuning, versions
from ack_alluxio_training.alluxio_args import (
    CacheDataset,
    CacheResources,
    CacheTierArgs,
    ClientTuningArgs,
    JournalArgs,
    profiles,
)
from ack_alluxio_training.cluster_access import children_options
from ack_alluxio_training.dataset_bucket import ufs_uri
from ack_alluxio_training.quantities import memory_bytes

TYPE_TOKEN: Final = "ack-alluxio-training:index:AlluxioCache"
#: Seconds Helm waits for the master StatefulSet and the worker DaemonSet (image pulls included).
RELEASE_TIMEOUT_SECONDS: Final = 900
#: Pulumi waits for the Jobs to complete; the warm-up reads the whole data set from OSS.
MOUNT_JOB_TIMEOUT: Final = "30m"
WARMUP_JOB_TIMEOUT: Final = "4h"
_GIB: Final = 2**30


class AlluxioCacheArgs(TypedDict, total=False):
    """Inputs of AlluxioCache: the datasets and the cache you can afford; every tuning row is derived.

    Values that feed a tuning derivation are plain (not outputs of other resources), so the tuned
    Helm values are known at preview time and the policy pack can check them.
    """

    datasets: Required[Sequence[CacheDataset]]
    """Datasets in existing OSS buckets; the first is Alluxio's root mount, the others appear at /<name>."""
    cache_nodes: Required[int]
    """Nodes that are sure to run a cache worker (the GPU nodes); with the quota it sizes the cache (row 13)."""
    tier: CacheTierArgs
    """The cache tier (medium, quota per node, host path, watermarks); give FUSE the same tier."""
    client: ClientTuningArgs
    """Overrides of the client tuning (rows 4-9); by default everything is derived from the datasets."""
    resources: CacheResources
    """cpu and memory of master, job master, worker and job worker (default: the study's)."""
    namespace: str
    """Namespace the component creates for the release and its Jobs (default alluxio); FUSE must use it too."""
    alluxio_version: str
    """Alluxio image tag (default 2.9.5; only 2.9.x is tuned)."""
    chart_version: str
    """Version of the official alluxio chart (default 0.6.53)."""
    journal: JournalArgs
    """The master's journal volume (StorageClass and size)."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """nodeSelector of the cache nodes (default: the label GpuNodePool puts on its nodes)."""
    tolerations: pulumi.Input[Sequence[Mapping[str, str]]]
    """Tolerations of the cache nodes' taints (default: GpuNodePool's GPU taint)."""
    warmup: bool
    """Load every dataset into the cache with distributedLoad before training (default false)."""
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of an existing cluster; without it the caller's (or the default) Kubernetes provider is used."""


def _credentials_data(datasets: Sequence[CacheDataset]) -> pulumi.Output[dict[str, str]]:
    """The Secret's content: the root mount's site file, and each nested mount's key pair."""
    parts: list[pulumi.Input[str]] = []
    for dataset in datasets:
        parts += [dataset["access_key_id"], dataset["access_key_secret"]]

    def render(values: list[str | None]) -> dict[str, str]:
        data = {av.SITE_PROPERTIES_FILE: av.site_properties(values[0], values[1])}
        for i, dataset in enumerate(datasets[1:], start=1):
            id_key, secret_key = av.secret_key_names(dataset["profile"]["name"])
            # A missing value (a mock without the key's secret) is written empty, never crashes.
            data[id_key], data[secret_key] = values[2 * i] or "", values[2 * i + 1] or ""
        return data

    return pulumi.Output.secret(pulumi.Output.all(*parts).apply(render))


def _dataset_uri(dataset: CacheDataset) -> pulumi.Output[str]:
    prefix = dataset.get("prefix", "")
    return pulumi.Output.from_input(dataset["bucket"]).apply(lambda bucket: ufs_uri(bucket, prefix))


class AlluxioCache(pulumi.ComponentResource):
    """The tuned Alluxio master/worker release (rows 4-13) on an existing cluster, over existing OSS buckets.

    Prerequisites: the cache nodes carry the node_selector labels and the taints the tolerations
    admit (GpuNodePool sets both); the tier's host path exists on every cache node, owned by uid
    1000 (the Alluxio image's user; GpuNodePool's user data creates it); the cluster has the
    journal's StorageClass; the access keys may read the buckets.
    """

    namespace: pulumi.Output[str]
    """Namespace of the release; AlluxioFuse must be released into it."""
    release_name: pulumi.Output[str]
    """Name of the Helm release."""
    master_hostname: pulumi.Output[str]
    """DNS name of the master, for AlluxioFuse and Alluxio clients."""
    client_properties: pulumi.Output[dict[str, str]]
    """The tuned client properties (rows 4-9) derived for these datasets."""
    cache_capacity_gib: pulumi.Output[float]
    """Quota per node x cache nodes: what the cache holds (row 13)."""

    def __init__(self, name: str, args: AlluxioCacheArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        where = f"AlluxioCache {name!r}: "
        datasets = list(args["datasets"])
        dataset_profiles = profiles(datasets)
        inputs.check_profiles(dataset_profiles, where + "datasets")
        tier_settings = inputs.cache_tier(args.get("tier"), where + "tier")
        tier = av.tier_of(tier_settings)
        host_path = tier_settings.host_path
        resources = inputs.cache_resources(args.get("resources"), where + "resources")
        release = inputs.alluxio_release(
            {
                key: value
                for key, value in (
                    ("namespace", args.get("namespace")),
                    ("version", args.get("alluxio_version")),
                    ("chart_version", args.get("chart_version")),
                    ("journal_storage_class", args.get("journal", {}).get("storage_class")),
                    ("journal_size", args.get("journal", {}).get("size")),
                )
                if value is not None
            },
            where.rstrip(": "),
        )
        client = inputs.client_properties(dataset_profiles, args.get("client"), where + "client")
        for role in ("master", "job_master", "job_worker"):
            inputs.checked(f"{where}resources.{role}.memory", av.jvm_options, resources[role])  # type: ignore[literal-required]
        inputs.checked(
            f"{where}resources.worker.memory", av.jvm_options, resources["worker"], av.tier_reserved_bytes(tier)
        )
        inputs.checked(f"{where}datasets[0].prefix", av.check_java_opts_value, datasets[0].get("prefix", ""), "prefix")
        cache_nodes = int(args["cache_nodes"])
        if cache_nodes < 1:
            raise inputs.ArgumentError(f"{where}cache_nodes: at least one node runs a worker (got {cache_nodes})")
        warmup = bool(args.get("warmup", False))
        node_selector = args.get("node_selector", scheduling.node_selector())
        tolerations = args.get("tolerations", scheduling.tolerations())

        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = children_options(self, name, args.get("kubeconfig"))
        quota_bytes = memory_bytes(tier["quota"])
        shortfall = tuning.cache_shortfall_message(
            quota_bytes, cache_nodes, sum(int(float(d["size_gib"]) * _GIB) for d in dataset_profiles)
        )
        if shortfall:
            pulumi.log.warn(shortfall, resource=self)

        labels = {"app.kubernetes.io/part-of": "ack-alluxio-training"}
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": release.namespace,
                # Explicit, visible opt-out: workers use hostNetwork and FUSE runs privileged here.
                "labels": {**labels, "pod-security.kubernetes.io/enforce": "privileged"},
            },
            opts=child,
        )
        self.namespace = namespace.metadata.name.apply(lambda ns: ns or release.namespace)
        # Default deny, then the master's ports and the CLI Jobs' way to it (network_policies.py);
        # the host-network workers and FUSE are outside any NetworkPolicy's reach.
        for policy in network_policies.alluxio_namespace_policies(self.namespace):
            k8s.networking.v1.NetworkPolicy(
                f"{name}-{policy['metadata']['name']}", metadata=policy["metadata"], spec=policy["spec"], opts=child
            )
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
            alluxio_version=release.version,
            resources=resources,
            tier=tier,
            cache_host_path=host_path,
            node_selector=node_selector,
            tolerations=tolerations,
            client_properties=client,
            root_ufs_uri=_dataset_uri(root),
            root_endpoint=root["endpoint"],
            root_read_only=root["profile"].get("read_only", True) and len(datasets) == 1,
            journal=av.Journal(storage_class=release.journal_storage_class, size=release.journal_size),
        )
        self.release = k8s.helm.v3.Release(
            f"{name}-release",
            k8s.helm.v3.ReleaseArgs(
                chart=versions.ALLUXIO_CHART_NAME,
                version=release.chart_version,
                repository_opts=k8s.helm.v3.RepositoryOptsArgs(repo=versions.alluxio_chart_repository(release.version)),
                name=av.CACHE_RELEASE_NAME,
                namespace=self.namespace,
                values=values,
                timeout=RELEASE_TIMEOUT_SECONDS,
                max_history=10,
                # Hardens the chart's hard-coded pod specs on their way to the cluster (SECURITY.md).
                postrender=release_hardening.POSTRENDER_COMMAND,
            ),
            # The values name the Secret (a map key cannot be an Output), so order it explicitly.
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=[self.credentials])),
        )
        self.release_name = self.release.name.apply(lambda n: n or av.CACHE_RELEASE_NAME)

        java_opts = self.master_hostname.apply(av.master_java_opts)
        ready: list[pulumi.Resource] = [self.release]
        self.mount_job: k8s.batch.v1.Job | None = None
        if len(datasets) > 1:
            mounts = [
                av.NestedMount(
                    name=d["profile"]["name"],
                    alluxio_path=av.alluxio_path(i, d["profile"]["name"]),
                    ufs_uri=_dataset_uri(d),
                    endpoint=d["endpoint"],
                    read_only=d["profile"].get("read_only", True),
                )
                for i, d in enumerate(datasets)
                if i > 0
            ]
            manifest = av.mount_job_manifest(
                alluxio_version=release.version,
                namespace=self.namespace,
                java_opts=java_opts,
                mounts=mounts,
                credentials_secret_name=self.credentials.metadata.name,
                tolerations=tolerations,
            )
            self.mount_job = k8s.batch.v1.Job(
                f"{name}-mount",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        depends_on=[self.release], custom_timeouts=pulumi.CustomTimeouts(create=MOUNT_JOB_TIMEOUT)
                    ),
                ),
            )
            ready.append(self.mount_job)

        self.warmup_job: k8s.batch.v1.Job | None = None
        if warmup:
            manifest = av.warmup_job_manifest(
                alluxio_version=release.version,
                namespace=self.namespace,
                java_opts=java_opts,
                paths=[av.alluxio_path(i, d["name"]) for i, d in enumerate(dataset_profiles)],
                tolerations=tolerations,
            )
            self.warmup_job = k8s.batch.v1.Job(
                f"{name}-warmup",
                metadata=manifest["metadata"],
                spec=manifest["spec"],
                opts=pulumi.ResourceOptions.merge(
                    child,
                    pulumi.ResourceOptions(
                        depends_on=ready, custom_timeouts=pulumi.CustomTimeouts(create=WARMUP_JOB_TIMEOUT)
                    ),
                ),
            )

        self.client_properties = pulumi.Output.from_input(client)
        self.cache_capacity_gib = pulumi.Output.from_input(tuning.cache_capacity_bytes(quota_bytes, cache_nodes) / _GIB)
        self.register_outputs(
            {
                "namespace": self.namespace,
                "releaseName": self.release_name,
                "masterHostname": self.master_hostname,
                "clientProperties": self.client_properties,
                "cacheCapacityGib": self.cache_capacity_gib,
                "warmup": warmup,
            }
        )
