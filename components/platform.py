"""TrainingPlatform: wires the node pool, dataset buckets, Alluxio, FUSE and the training jobs.

Settings reach the components only through this module and ``platform_args`` (which maps them
onto each component's args); every component stays usable on its own by other stacks (args are
TypedDicts of ``pulumi.Input``). TrainingPlatform itself takes the validated settings model, so it
is Python-only: other languages compose the components of the component package.
"""

from __future__ import annotations

from typing import Any

import pulumi

from ack_alluxio_training.alluxio_cache import AlluxioCache
from ack_alluxio_training.alluxio_fuse import AlluxioFuse
from ack_alluxio_training.dataset_bucket import DatasetBucket, dataset_bucket_args
from ack_alluxio_training.job_manifests import DEFAULT_NAMESPACE as TRAINING_NAMESPACE
from ack_alluxio_training.monitoring import AlluxioMonitoring
from ack_alluxio_training.node_pool import GpuNodePool, gpu_node_pool_args
from ack_alluxio_training.platform_args import (
    alluxio_cache_args,
    alluxio_fuse_args,
    alluxio_monitoring_args,
    training_job_args,
)
from ack_alluxio_training.settings import PlatformSettings
from ack_alluxio_training.training_job import TrainingJob
from ack_alluxio_training.training_namespace import TrainingNamespace, TrainingNamespaceArgs

TYPE_TOKEN = "ack-alluxio-training:index:TrainingPlatform"


class TrainingPlatform(pulumi.ComponentResource):
    """The whole platform of one stack."""

    node_pool: GpuNodePool
    buckets: dict[str, DatasetBucket]
    cache: AlluxioCache
    fuse: AlluxioFuse
    training_namespace: TrainingNamespace
    jobs: dict[str, TrainingJob]
    monitoring: AlluxioMonitoring | None

    def __init__(self, name: str, settings: PlatformSettings, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        self.settings = settings
        child = pulumi.ResourceOptions(parent=self)
        self.node_pool = GpuNodePool(f"{name}-gpu-pool", gpu_node_pool_args(settings), child)
        self.buckets = {
            dataset.name: DatasetBucket(f"{name}-{dataset.name}", dataset_bucket_args(settings, dataset), child)
            for dataset in settings.datasets
        }
        on_cluster = pulumi.ResourceOptions(parent=self, providers=[self.node_pool.kubernetes_provider])
        self.cache = AlluxioCache(
            f"{name}-alluxio",
            alluxio_cache_args(settings, self.node_pool, self.buckets),
            on_cluster,
        )
        self.fuse = AlluxioFuse(
            f"{name}-alluxio-fuse",
            alluxio_fuse_args(settings, self.node_pool, self.cache),
            pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=[self.cache])),
        )
        ready: list[pulumi.Resource] = [self.fuse]
        if self.cache.warmup_job is not None:
            ready.append(self.cache.warmup_job)
        self.training_namespace = TrainingNamespace(
            f"{name}-jobs", TrainingNamespaceArgs(name=TRAINING_NAMESPACE), on_cluster
        )
        self.jobs = {
            job.name: TrainingJob(
                f"{name}-{job.name}",
                training_job_args(settings, job, self.node_pool, self.fuse, self.training_namespace.name),
                pulumi.ResourceOptions.merge(on_cluster, pulumi.ResourceOptions(depends_on=ready)),
            )
            for job in settings.jobs
        }
        # Needs the Prometheus operator's CRDs, not the releases: nothing waits on it, it waits on nothing.
        self.monitoring = (
            AlluxioMonitoring(f"{name}-monitoring", alluxio_monitoring_args(settings), on_cluster)
            if settings.monitoring.enabled
            else None
        )
        self.register_outputs(
            {
                "clusterId": self.node_pool.cluster_id,
                "buckets": {n: b.bucket_name for n, b in self.buckets.items()},
                "fuseMaxIdleThreads": self.fuse.max_idle_threads,
            }
        )


def export_platform_outputs(platform: TrainingPlatform) -> None:
    """Stack outputs an operator and other stacks read; secrets stay Pulumi secrets."""
    outputs: dict[str, Any] = {
        "environment": platform.settings.environment,
        "region": platform.settings.region,
        "clusterId": platform.node_pool.cluster_id,
        "kubeconfig": pulumi.Output.secret(platform.node_pool.kubeconfig),
        "gpuNodeSelector": platform.node_pool.node_selector,
        "datasetBuckets": {n: b.bucket_name for n, b in platform.buckets.items()},
        "datasetUfsUris": {n: b.ufs_uri for n, b in platform.buckets.items()},
        "alluxioNamespace": platform.cache.namespace,
        "alluxioMaster": platform.cache.master_hostname,
        "fuseMountPoint": platform.fuse.mount_point,
        "trainingJobs": {n: j.job_name for n, j in platform.jobs.items()},
    }
    if platform.monitoring is not None:
        outputs["monitoring"] = {
            "namespace": platform.monitoring.namespace,
            "dashboardConfigMap": platform.monitoring.dashboard_config_map,
            "prometheusRule": platform.monitoring.prometheus_rule,
        }
    for key, value in outputs.items():
        pulumi.export(key, value)
