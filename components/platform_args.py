"""Map validated stack settings onto the args of AlluxioCache, AlluxioFuse and TrainingJob.

The components take what a user knows and derive the tuning themselves; this module only says
where each fact sits in the stack config, and refuses values the components would refuse, naming
the stack key (``ack-alluxio-training:cache.hostPath``) instead of the component argument.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Protocol, cast

import pulumi

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import job_manifests, tuning
from ack_alluxio_training.alluxio_args import (
    CacheDataset,
    CacheResources,
    CacheTierArgs,
    ClientTuningArgs,
    ContainerResources,
    ReaderJob,
)
from ack_alluxio_training.alluxio_cache import AlluxioCacheArgs
from ack_alluxio_training.alluxio_fuse import AlluxioFuseArgs
from ack_alluxio_training.monitoring import AlluxioMonitoringArgs
from ack_alluxio_training.scheduling import GpuPlacement
from ack_alluxio_training.settings import PROJECT, PlatformSettings, Resources, SettingsError, TrainingJobSettings
from ack_alluxio_training.training_job import TrainingJobArgs


class BucketOutputs(Protocol):
    """What the cache reads from a DatasetBucket component."""

    @property
    def bucket_name(self) -> pulumi.Output[str]: ...

    @property
    def internal_endpoint(self) -> pulumi.Output[str]: ...

    @property
    def access_key_id(self) -> pulumi.Output[str]: ...

    @property
    def access_key_secret(self) -> pulumi.Output[str]: ...


class FuseCache(Protocol):
    """What FUSE reads from the AlluxioCache component."""

    @property
    def namespace(self) -> pulumi.Output[str]: ...

    @property
    def master_hostname(self) -> pulumi.Output[str]: ...


class FuseMount(Protocol):
    """What a TrainingJob needs of the FUSE release (``AlluxioFuse`` provides it)."""

    @property
    def mount_point(self) -> pulumi.Input[str]: ...


def _refuse_bad(checks: list[tuple[str, Callable[[], object]]]) -> None:
    """Run each check; every refusal becomes one line of a SettingsError naming its stack key."""
    problems = []
    for key, check in checks:
        try:
            check()
        except ValueError as exc:
            problems.append(f"{PROJECT}:{key}: {exc}")
    if problems:
        raise SettingsError(problems)


def _container(resources: Resources) -> ContainerResources:
    return ContainerResources(cpu=resources.cpu, memory=resources.memory)


def tier_args(settings: PlatformSettings) -> CacheTierArgs:
    """``cache.*`` as the tier both Alluxio components take."""
    cache = settings.cache
    return CacheTierArgs(
        medium=cache.medium,
        quota_per_node=cache.quota_per_node,
        host_path=cache.host_path,
        high_watermark=cache.high_watermark,
        low_watermark=cache.low_watermark,
    )


def client_args(settings: PlatformSettings) -> ClientTuningArgs:
    """``alluxio.client.*`` as the client tuning both Alluxio components take."""
    client = settings.alluxio.client
    return ClientTuningArgs(
        worker_list_refresh_interval=client.worker_list_refresh_interval,
        avoid_eviction_reserved=client.avoid_eviction_reserved,
        metadata_cache_headroom=client.metadata_cache_headroom,
    )


def alluxio_cache_args(
    settings: PlatformSettings, node_pool: GpuPlacement, buckets: Mapping[str, BucketOutputs]
) -> AlluxioCacheArgs:
    """Map validated settings, the node pool and the dataset buckets onto the cache's args."""
    resources = av.cache_resources(settings)
    tier = av.cache_tier(settings)
    checks: list[tuple[str, Callable[[], object]]] = [
        (f"{key}.memory", partial(av.jvm_options, container))
        for key, container in (
            ("alluxio.master", resources["master"]),
            ("alluxio.jobMaster", resources["job_master"]),
            ("alluxio.jobWorker", resources["job_worker"]),
        )
    ]
    checks.append(
        ("alluxio.worker.memory", partial(av.jvm_options, resources["worker"], av.tier_reserved_bytes(tier)))
    )
    # Values the chart renders into its one-line java opts (the root UFS URI embeds the first prefix).
    checks.append(("cache.hostPath", partial(av.check_java_opts_value, settings.cache.host_path, "cache host path")))
    if settings.datasets:
        checks.append(
            ("datasets[0].prefix", partial(av.check_java_opts_value, settings.datasets[0].prefix, "prefix"))
        )
    _refuse_bad(checks)
    profiles = av.dataset_profiles(settings)
    datasets = [
        CacheDataset(
            profile=profile,
            bucket=buckets[dataset.name].bucket_name,
            prefix=dataset.prefix,
            endpoint=buckets[dataset.name].internal_endpoint,
            access_key_id=buckets[dataset.name].access_key_id,
            access_key_secret=buckets[dataset.name].access_key_secret,
        )
        for profile, dataset in zip(profiles, settings.datasets, strict=True)
    ]
    alluxio = settings.alluxio
    return AlluxioCacheArgs(
        datasets=datasets,
        cache_nodes=settings.node_pool.cache_nodes,
        tier=tier_args(settings),
        client=client_args(settings),
        resources=CacheResources(
            master=_container(alluxio.master),
            job_master=_container(alluxio.job_master),
            worker=_container(alluxio.worker),
            job_worker=_container(alluxio.job_worker),
        ),
        namespace=alluxio.namespace,
        alluxio_version=alluxio.version,
        chart_version=alluxio.chart_version,
        journal={"storage_class": alluxio.journal_storage_class, "size": alluxio.journal_size},
        node_selector=node_pool.node_selector,
        tolerations=cast(Any, node_pool.tolerations),
        warmup=settings.warmup_enabled,
    )


def reader_jobs(settings: PlatformSettings) -> list[ReaderJob]:
    """``jobs[]`` as the reader profile FUSE sizes its threads from (row 3)."""
    return [
        ReaderJob(reader_threads=job.reader_threads, workers=job.workers, gpus_per_worker=job.gpus_per_worker)
        for job in settings.jobs
    ]


def alluxio_fuse_args(settings: PlatformSettings, node_pool: GpuPlacement, cache: FuseCache) -> AlluxioFuseArgs:
    """Map validated settings, the node pool and the cache onto FUSE's args."""
    fuse = settings.fuse
    client = av.client_properties(settings)
    cache_entries = int(client[tuning.KEY_METADATA_CACHE_MAX_SIZE])
    _refuse_bad(
        [
            ("fuse.resources.memory", partial(tuning.fuse_jvm_memory_options, fuse.resources.memory, cache_entries)),
            ("fuse.mountPoint", partial(av.fuse_mount_parent, fuse.mount_point)),
            ("fuse.extraMountOptions", partial(av.check_fuse_mount_options, fuse.extra_mount_options)),
            ("cache.hostPath", partial(av.check_java_opts_value, settings.cache.host_path, "cache host path")),
        ]
    )
    args = AlluxioFuseArgs(
        namespace=cache.namespace,
        master_hostname=cache.master_hostname,
        datasets=av.dataset_profiles(settings),
        jobs=reader_jobs(settings),
        gpus_per_node=settings.node_pool.gpus_per_node,
        tier=tier_args(settings),
        client=client_args(settings),
        resources=_container(fuse.resources),
        mount_point=fuse.mount_point,
        entry_timeout_seconds=fuse.entry_timeout_seconds,
        attr_timeout_seconds=fuse.attr_timeout_seconds,
        extra_mount_options=list(fuse.extra_mount_options),
        libfuse_version=fuse.libfuse_version,
        alluxio_version=settings.alluxio.version,
        chart_version=settings.alluxio.chart_version,
        node_selector=node_pool.node_selector,
        tolerations=cast(Any, node_pool.tolerations),
    )
    if fuse.max_idle_threads is not None:
        args["max_idle_threads"] = fuse.max_idle_threads
    return args


def training_job_args(
    settings: PlatformSettings,
    job: TrainingJobSettings,
    node_pool: GpuPlacement,
    fuse: FuseMount,
    namespace: pulumi.Input[str] = job_manifests.DEFAULT_NAMESPACE,
) -> TrainingJobArgs:
    """Map one configured job onto TrainingJob args: settings plus the pool's placement and the mount."""
    values: dict[str, Any] = {
        **job_manifests.job_settings_values(settings, job),
        "namespace": namespace,
        "fuse_mount_point": fuse.mount_point,
        "node_selector": node_pool.node_selector,
        "tolerations": node_pool.tolerations,
    }
    return cast(TrainingJobArgs, values)


def alluxio_monitoring_args(settings: PlatformSettings) -> AlluxioMonitoringArgs:
    """Map the stack's settings onto the component's args."""
    monitoring = settings.monitoring
    return AlluxioMonitoringArgs(
        namespace=monitoring.namespace or settings.alluxio.namespace,
        alluxio_namespace=settings.alluxio.namespace,
        cache_release=av.CACHE_RELEASE_NAME,
        fuse_release=av.FUSE_RELEASE_NAME,
        labels=dict(monitoring.labels),
        scrape_interval=monitoring.scrape_interval,
        training_namespace=job_manifests.DEFAULT_NAMESPACE,
        training_metrics_port=monitoring.training_metrics_port,
        cache_hit_rate_floor=monitoring.cache_hit_rate_floor,
        ufs_read_share_ceiling=monitoring.ufs_read_share_ceiling,
        worker_high_watermark=settings.cache.high_watermark,
        probe_ratio_floor=monitoring.probe_ratio_floor,
    )
