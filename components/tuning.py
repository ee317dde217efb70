"""The tuned values of the study and the pure derivations behind them.

Every tuning value and every derivation lives here, once. The components call these functions to
build Helm values; the policy pack calls the same functions to decide what a deployed value should
be (and to remediate). Row numbers refer to the tuning table in docs/tuning.md. Nothing here touches
Pulumi: inputs are plain numbers and strings, quantities are parsed by ``ack_alluxio_training.quantities``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple

from ack_alluxio_training.durations import format_duration
from ack_alluxio_training.quantities import QuantityError, cpu_cores, memory_bytes, whole_cpus_rounded_up

# Row 4: reads from the UFS go to the local worker but never evict cached blocks to make room.
AVOID_EVICTION_POLICY_CLASS: Final = "alluxio.client.block.policy.LocalFirstAvoidEvictionPolicy"
# Row 6: CACHE is 2.3+'s default; set explicitly because CACHE_PROMOTE moves blocks between tiers.
READ_TYPE_CACHE: Final = "CACHE"
# Alluxio's own default refresh interval (row 8 wants ours well above it).
ALLUXIO_DEFAULT_WORKER_LIST_REFRESH_SECONDS: Final = 120
# Row 2: Alluxio's documentation suggests at least 10 minutes of kernel metadata caching.
DEFAULT_MIN_FUSE_TIMEOUT_SECONDS: Final = 600
# Row 7: the FUSE JVM holds roughly this many bytes per cached metadata entry.
METADATA_CACHE_BYTES_PER_ENTRY: Final = 4 * 1024
# Row 1: FUSE needs kernel >= 4.19 for the page-cache and writeback fixes the study relied on.
DEFAULT_KERNEL_FLOOR: Final = "4.19"
# Row 3: FUSE threads when no training job is declared. libfuse's own default (10) starves data
# loaders; 64 serves one 8-GPU worker with 8 reader threads per GPU.
DEFAULT_FUSE_MAX_IDLE_THREADS: Final = 64

# Client property keys (rows 4-9). Named once; components and policies both use these names.
KEY_UFS_READ_LOCATION_POLICY: Final = "alluxio.user.ufs.block.read.location.policy"
KEY_AVOID_EVICTION_RESERVED_BYTES: Final = "alluxio.user.block.avoid.eviction.policy.reserved.size.bytes"
KEY_PASSIVE_CACHE: Final = "alluxio.user.file.passive.cache.enabled"
KEY_READ_TYPE: Final = "alluxio.user.file.readtype.default"
KEY_METADATA_CACHE_ENABLED: Final = "alluxio.user.metadata.cache.enabled"
KEY_METADATA_CACHE_MAX_SIZE: Final = "alluxio.user.metadata.cache.max.size"
KEY_METADATA_CACHE_EXPIRATION: Final = "alluxio.user.metadata.cache.expiration.time"
KEY_WORKER_LIST_REFRESH: Final = "alluxio.user.worker.list.refresh.interval"
KEY_ACCESS_TIME_UPDATES_DISABLED: Final = "alluxio.user.update.file.accesstime.disabled"
KEY_SHORT_CIRCUIT_ENABLED: Final = "alluxio.user.short.circuit.enabled"
KEY_LIBFUSE_VERSION: Final = "alluxio.fuse.jnifuse.libfuse.version"

#: The client property keys of rows 4-9, in table order.
CLIENT_PROPERTY_KEYS: Final = (
    KEY_UFS_READ_LOCATION_POLICY,
    KEY_AVOID_EVICTION_RESERVED_BYTES,
    KEY_PASSIVE_CACHE,
    KEY_READ_TYPE,
    KEY_METADATA_CACHE_ENABLED,
    KEY_METADATA_CACHE_MAX_SIZE,
    KEY_METADATA_CACHE_EXPIRATION,
    KEY_WORKER_LIST_REFRESH,
    KEY_ACCESS_TIME_UPDATES_DISABLED,
)

_MIB: Final = 2**20
_GIB: Final = 2**30
# Row 11 (memory side): share of a JVM's memory budget given to heap and to direct buffers; the
# rest covers metaspace, code cache, thread stacks and JNI (libfuse) allocations.
JVM_HEAP_FRACTION: Final = 0.55
JVM_DIRECT_MEMORY_FRACTION: Final = 0.25
# Below this a JVM cannot run an Alluxio process at all.
MIN_JVM_BUDGET_BYTES: Final = 512 * _MIB
# Row 7: what the FUSE client needs on its heap besides the metadata cache (open streams,
# block location cache, gRPC buffers).
FUSE_BASE_HEAP_BYTES: Final = 1 * _GIB


class JobReaders(NamedTuple):
    """What row 3 needs to know about one training job."""

    reader_threads_per_worker: int
    workers: int
    gpus_per_worker: int


def active_processor_count(cpu_limit: str | int | float) -> int:
    """Row 11: the processor count a JVM must assume for a container: its cpu limit rounded up.

    Without it, JDK 8 images size GC and JIT thread pools from the host's cores (96 on a
    gn6v-c8g1.16xlarge) or, under cgroup cpu shares, from 1 core.
    """
    return whole_cpus_rounded_up(cpu_limit)


def jvm_cpu_options(cpu_limit: str | int | float) -> list[str]:
    """Row 11: JVM flags that make GC and compiler threads agree with the container's cpu limit."""
    processors = active_processor_count(cpu_limit)
    parallel_gc_threads = processors
    concurrent_gc_threads = max(1, (parallel_gc_threads + 3) // 4)
    return [
        f"-XX:ActiveProcessorCount={processors}",
        f"-XX:ParallelGCThreads={parallel_gc_threads}",
        f"-XX:ConcGCThreads={concurrent_gc_threads}",
    ]


def _mebibytes_down(value: float, granule_mib: int = 64) -> int:
    return max(granule_mib, int(value // (granule_mib * _MIB)) * granule_mib)


def jvm_heap_and_direct_bytes(memory_limit: str | int, reserved_bytes: int = 0) -> tuple[int, int]:
    """Heap and direct-memory caps for a JVM in a container of ``memory_limit``.

    ``reserved_bytes`` is memory the container is charged for that the JVM does not own: a MEM
    tier on a tmpfs host path is charged to the worker that writes it (row 13). Alluxio's start
    scripts otherwise add ``-Xmx8g``/``-Xmx4g`` whatever the limit is, and the pod is OOM-killed.
    """
    budget = memory_bytes(memory_limit) - reserved_bytes
    if budget < MIN_JVM_BUDGET_BYTES:
        raise ValueError(
            f"memory {memory_limit} leaves {max(budget, 0) // _MIB} MiB for the JVM after {reserved_bytes // _MIB} MiB "
            f"reserved; at least {MIN_JVM_BUDGET_BYTES // _MIB} MiB are needed"
        )
    heap = _mebibytes_down(budget * JVM_HEAP_FRACTION) * _MIB
    direct = _mebibytes_down(budget * JVM_DIRECT_MEMORY_FRACTION) * _MIB
    return heap, direct


def jvm_memory_options(memory_limit: str | int, reserved_bytes: int = 0) -> list[str]:
    """JVM flags that keep heap plus direct buffers inside the container's memory limit."""
    heap, direct = jvm_heap_and_direct_bytes(memory_limit, reserved_bytes)
    return [f"-Xmx{heap // _MIB}m", f"-XX:MaxDirectMemorySize={direct // _MIB}m"]


def fuse_max_idle_threads(reader_threads_per_worker: int, workers_per_node: int) -> int:
    """Row 3: FUSE threads that can serve every training reader thread on one node at once."""
    if reader_threads_per_worker < 1 or workers_per_node < 1:
        raise ValueError("reader threads and workers per node must be at least 1")
    return reader_threads_per_worker * workers_per_node


def training_workers_per_node(workers: int, gpus_per_worker: int, gpus_per_node: int) -> int:
    """Row 3: how many of a job's worker pods can share one node (bounded by its GPUs)."""
    if workers < 1 or gpus_per_worker < 1 or gpus_per_node < gpus_per_worker:
        raise ValueError(
            f"a job of {workers} workers x {gpus_per_worker} GPUs does not fit nodes of {gpus_per_node} GPUs"
        )
    return min(workers, gpus_per_node // gpus_per_worker)


def fuse_threads_for_jobs(jobs: Iterable[JobReaders], gpus_per_node: int) -> int:
    """Row 3: FUSE threads for a node: the most reader threads any one job puts on a node.

    A node's FUSE daemon serves every pod on it; the guardrail asks N >= each job's I/O threads per
    node, so the busiest job decides. With no job declared, a generous default is used.
    """
    per_node = [
        fuse_max_idle_threads(
            job.reader_threads_per_worker,
            training_workers_per_node(job.workers, job.gpus_per_worker, gpus_per_node),
        )
        for job in jobs
    ]
    return max(per_node) if per_node else DEFAULT_FUSE_MAX_IDLE_THREADS


def fuse_idle_threads_env(libfuse_version: int, max_idle_threads: int) -> dict[str, str]:
    """Row 3: environment of the FUSE container: Alluxio's patched libfuse2 reads MAX_IDLE_THREADS."""
    check_libfuse_version(libfuse_version)
    return {"MAX_IDLE_THREADS": str(max_idle_threads)} if libfuse_version == 2 else {}


def fuse_mount_options(
    *,
    entry_timeout_seconds: int,
    attr_timeout_seconds: int,
    read_only: bool,
    libfuse_version: int,
    max_idle_threads: int,
    extra: Iterable[str] = (),
) -> list[str]:
    """Rows 2-3: the FUSE ``-o`` options, one per item.

    A ``-o`` list replaces the image's default ``direct_io``: read-only data gets ``kernel_cache,ro``
    instead (the page cache then serves repeated epochs); writable data keeps ``direct_io`` so the
    kernel never serves stale pages. ``allow_other`` lets non-root training pods read the mount.
    libfuse 3 takes the thread count as a mount option; libfuse 2 takes it from the environment.
    """
    check_libfuse_version(libfuse_version)
    options = ["allow_other", f"entry_timeout={entry_timeout_seconds}", f"attr_timeout={attr_timeout_seconds}"]
    options += ["kernel_cache", "ro"] if read_only else ["direct_io"]
    if libfuse_version == 3:
        options.append(f"max_idle_threads={max_idle_threads}")
    options += list(extra)
    return options


def check_libfuse_version(libfuse_version: int) -> None:
    """Row 3: only libfuse 2 (the image's patched build) and 3 are supported."""
    if libfuse_version not in (2, 3):
        raise ValueError(f"libfuse version {libfuse_version} is neither 2 nor 3")


def metadata_cache_max_size(file_count: int, headroom: float = 1.1) -> int:
    """Row 7: entries the client metadata cache needs to hold the whole dataset (with headroom)."""
    if file_count < 1:
        raise ValueError("a dataset has at least one file")
    return math.ceil(file_count * headroom)


def metadata_cache_heap_bytes(max_size: int) -> int:
    """Row 7: FUSE heap the metadata cache occupies when full (about 4 KB an entry)."""
    return max_size * METADATA_CACHE_BYTES_PER_ENTRY


def fuse_min_heap_bytes(metadata_cache_entries: int) -> int:
    """Row 7: the least FUSE heap that holds a full metadata cache besides the client's own needs."""
    return metadata_cache_heap_bytes(metadata_cache_entries) + FUSE_BASE_HEAP_BYTES


def _least_whole_gib_with_heap(needed: int) -> int:
    """The smallest whole-GiB memory limit whose JVM heap reaches ``needed`` bytes.

    Searched by doubling then bisection, so it ends in a few dozen steps for any size; stepping one
    GiB at a time never ends once the limit is so large that adding a GiB no longer changes the
    float the heap fraction is computed in.
    """

    def enough(gib: int) -> bool:
        return jvm_heap_and_direct_bytes(gib * _GIB)[0] >= needed

    high = max(1, math.ceil(needed / JVM_HEAP_FRACTION / _GIB))
    while not enough(high):
        high *= 2
    low = 0  # a limit of 0 GiB is never enough
    while high - low > 1:
        middle = (low + high) // 2
        if enough(middle):
            high = middle
        else:
            low = middle
    return high


def fuse_jvm_memory_options(memory_limit: str | int, metadata_cache_entries: int) -> list[str]:
    """Row 7 + 11: FUSE heap and direct memory; refuses a container too small for the cache.

    ``-Xms`` equals ``-Xmx`` so a full metadata cache never waits on heap growth mid-epoch.
    """
    heap, direct = jvm_heap_and_direct_bytes(memory_limit)
    needed = fuse_min_heap_bytes(metadata_cache_entries)
    if heap < needed:
        enough = _least_whole_gib_with_heap(needed)
        raise ValueError(
            f"FUSE memory {memory_limit} gives a {heap // _MIB} MiB heap, but {metadata_cache_entries} metadata "
            f"cache entries need {needed // _MIB} MiB (row 7); give FUSE at least {enough}Gi"
        )
    return [f"-Xms{heap // _MIB}m", f"-Xmx{heap // _MIB}m", f"-XX:MaxDirectMemorySize={direct // _MIB}m"]


class DatasetMetadata(NamedTuple):
    """What row 7 needs to know about one dataset behind the mount."""

    name: str
    file_count: int
    change_interval_seconds: float


class MetadataCache(NamedTuple):
    """Row 7 for the datasets behind one mount: one client cache serves them all."""

    #: Entries: every file of every dataset, with headroom.
    max_size: int
    #: Seconds an entry lives: the shortest change interval, so no dataset is served stale longer.
    expiration_seconds: int
    #: The dataset whose change interval decides the expiration.
    shortest_interval_dataset: str
    #: FUSE heap a full cache occupies (the FUSE heap check sizes against this same max_size).
    heap_bytes: int


def metadata_cache_expiration_seconds(change_interval_seconds: Iterable[float]) -> int:
    """Row 7: how long the client caches metadata: the shortest change interval of the datasets.

    One client cache serves every dataset behind the mount, and a cached listing must expire once
    the data it describes may have changed: with a dataset that changes daily beside one that
    changes weekly, a 7d expiration would hide a day-old change of the first for up to a week.
    The shortest interval is the only value that keeps every dataset fresh.
    """
    intervals = [float(seconds) for seconds in change_interval_seconds]
    if not intervals or min(intervals) <= 0:
        raise ValueError("at least one positive change interval is needed")
    return max(1, math.floor(min(intervals)))


def metadata_cache(datasets: Sequence[DatasetMetadata], headroom: float = 1.1) -> MetadataCache:
    """Row 7 for the datasets behind one mount: size on the sum of their files, expire on the shortest interval."""
    if not datasets:
        raise ValueError("at least one dataset is needed to size the metadata cache")
    max_size = metadata_cache_max_size(sum(d.file_count for d in datasets), headroom)
    shortest = min(datasets, key=lambda d: (d.change_interval_seconds, d.name))
    return MetadataCache(
        max_size=max_size,
        expiration_seconds=metadata_cache_expiration_seconds(d.change_interval_seconds for d in datasets),
        shortest_interval_dataset=shortest.name,
        heap_bytes=metadata_cache_heap_bytes(max_size),
    )


def avoid_eviction_reserved_bytes(reserved: str | int) -> int:
    """Row 4: bytes the avoid-eviction policy keeps free on a worker; must be positive."""
    value = memory_bytes(reserved)
    if value <= 0:
        raise ValueError(f"the avoid-eviction reserve {reserved!r} must be positive (row 4)")
    return value


def tuned_client_properties(
    *,
    datasets: Sequence[DatasetMetadata],
    worker_list_refresh_seconds: float,
    avoid_eviction_reserved: str | int,
    metadata_cache_headroom: float = 1.1,
) -> dict[str, str]:
    """Rows 4-9: the Alluxio client properties of the study, as the strings Alluxio reads.

    ``datasets`` are every dataset behind the mount; they share one client metadata cache
    (:func:`metadata_cache`). The policy pack uses this for remediation, so it takes plain values only.
    """
    cache = metadata_cache(datasets, metadata_cache_headroom)
    if worker_list_refresh_seconds <= ALLUXIO_DEFAULT_WORKER_LIST_REFRESH_SECONDS:
        raise ValueError(
            f"a worker-list refresh of {worker_list_refresh_seconds}s is not above Alluxio's 2min default (row 8)"
        )
    return {
        # Row 4: the full class name; Alluxio loads it by reflection.
        KEY_UFS_READ_LOCATION_POLICY: AVOID_EVICTION_POLICY_CLASS,
        KEY_AVOID_EVICTION_RESERVED_BYTES: str(avoid_eviction_reserved_bytes(avoid_eviction_reserved)),
        # Row 5: a remote read must not leave a second copy on the reader's worker.
        KEY_PASSIVE_CACHE: "false",
        KEY_READ_TYPE: READ_TYPE_CACHE,
        # Row 7: metadata served from the client, sized to the data.
        KEY_METADATA_CACHE_ENABLED: "true",
        KEY_METADATA_CACHE_MAX_SIZE: str(cache.max_size),
        KEY_METADATA_CACHE_EXPIRATION: format_duration(cache.expiration_seconds),
        # Row 8: fewer worker-list RPCs to the master from every client.
        KEY_WORKER_LIST_REFRESH: format_duration(math.ceil(worker_list_refresh_seconds)),
        # Row 9: reads do not write access times back to the master (needs row 7's cache on).
        KEY_ACCESS_TIME_UPDATES_DISABLED: "true",
    }


def cpu_guarantee_problem(request: str | None, limit: str | None, whole_cores: bool = True) -> str | None:
    """Row 12: why a container's cpu request and limit do not give it dedicated cores, or None.

    A container without a request runs with cpu.shares=2 and loses every contention; one whose
    request differs from its limit is Burstable and never gets exclusive cores; a node pool with
    the static CPU manager (ours) pins only whole cores.
    """
    if request is None or limit is None:
        missing = " and ".join(kind for kind, value in (("request", request), ("limit", limit)) if value is None)
        return f"the {missing} is unset; without a cpu request the container runs with cpu_shares=2 under contention"
    try:
        requested, limited = cpu_cores(request), cpu_cores(limit)
    except QuantityError:
        return "not both cpu quantities"
    if requested != limited:
        return ("the request differs from the limit, so the pod is Burstable: the static CPU manager gives exclusive "
                "cores only to Guaranteed pods whose cpu requests equal their limits")
    if whole_cores and requested != requested.to_integral_value():
        return "not a whole number of cores; the static CPU manager pins only whole cores"
    return None


def cache_capacity_bytes(quota_per_node_bytes: int, cache_nodes: int) -> int:
    """Row 13: total cache across the worker nodes."""
    return quota_per_node_bytes * cache_nodes


def cache_holds_dataset(quota_per_node_bytes: int, cache_nodes: int, dataset_bytes: int) -> bool:
    """Row 13: whether the cache can hold the whole dataset (the study: 4 x 40 GB for 144 GB)."""
    return cache_capacity_bytes(quota_per_node_bytes, cache_nodes) >= dataset_bytes


def cache_shortfall_message(quota_per_node_bytes: int, cache_nodes: int, dataset_bytes: int) -> str | None:
    """Row 13: a warning when the cache cannot hold the data (reads then go to OSS), else None."""
    if cache_holds_dataset(quota_per_node_bytes, cache_nodes, dataset_bytes):
        return None
    capacity = cache_capacity_bytes(quota_per_node_bytes, cache_nodes)
    return (
        f"the cache holds {capacity / _GIB:.1f} GiB ({cache_nodes} nodes x {quota_per_node_bytes / _GIB:.1f} GiB) "
        f"but the datasets are {dataset_bytes / _GIB:.1f} GiB: later epochs will read from OSS (row 13); "
        "raise cache.quotaPerNode or the number of cache nodes"
    )
