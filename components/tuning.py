"""The tuned values of the study and the pure derivations behind them.

Every tuning value and every derivation lives here, once. The components call these functions to
build Helm values; the policy pack calls the same functions to decide what a deployed value should
be. Row numbers refer to the tuning table in DESIGN.md.
"""

from __future__ import annotations

import math
from typing import Final

from components.quantities import whole_cpus_rounded_up

# Row 4: reads from the UFS go to the local worker but never evict cached blocks to make room.
AVOID_EVICTION_POLICY_CLASS: Final = "alluxio.client.block.policy.LocalFirstAvoidEvictionPolicy"
# Alluxio's own default refresh interval (row 8 wants ours well above it).
ALLUXIO_DEFAULT_WORKER_LIST_REFRESH_SECONDS: Final = 120
# Row 2: Alluxio's documentation suggests at least 10 minutes of kernel metadata caching.
DEFAULT_MIN_FUSE_TIMEOUT_SECONDS: Final = 600
# Row 7: the FUSE JVM holds roughly this many bytes per cached metadata entry.
METADATA_CACHE_BYTES_PER_ENTRY: Final = 4 * 1024
# Row 1: FUSE needs kernel >= 4.19 for the page-cache and writeback fixes the study relied on.
DEFAULT_KERNEL_FLOOR: Final = "4.19"

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


def fuse_max_idle_threads(reader_threads_per_worker: int, workers_per_node: int) -> int:
    """Row 3: FUSE threads that can serve every training reader thread on one node at once."""
    if reader_threads_per_worker < 1 or workers_per_node < 1:
        raise ValueError("reader threads and workers per node must be at least 1")
    return reader_threads_per_worker * workers_per_node


def metadata_cache_max_size(file_count: int, headroom: float = 1.1) -> int:
    """Row 7: entries the client metadata cache needs to hold the whole dataset (with headroom)."""
    if file_count < 1:
        raise ValueError("a dataset has at least one file")
    return math.ceil(file_count * headroom)


def metadata_cache_heap_bytes(max_size: int) -> int:
    """Row 7: FUSE heap the metadata cache occupies when full (about 4 KB an entry)."""
    return max_size * METADATA_CACHE_BYTES_PER_ENTRY


def cache_capacity_bytes(quota_per_node_bytes: int, cache_nodes: int) -> int:
    """Row 13: total cache across the worker nodes."""
    return quota_per_node_bytes * cache_nodes


def cache_holds_dataset(quota_per_node_bytes: int, cache_nodes: int, dataset_bytes: int) -> bool:
    """Row 13: whether the cache can hold the whole dataset (the study: 4 x 40 GB for 144 GB)."""
    return cache_capacity_bytes(quota_per_node_bytes, cache_nodes) >= dataset_bytes
