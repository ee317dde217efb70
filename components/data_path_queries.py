"""The PromQL of the data path, shared by the dashboard and the alerts (one expression per figure).

Alluxio names come from :mod:`alluxio_metrics` (2.9 metric keys as the exporter serves them); the
few names that are not Alluxio's are listed here with where they come from, so a test can account
for every metric name in every query.

Byte counters: ``Cluster.BytesRead{Local,Domain,Remote}`` are what clients asked of the cache
(short-circuit, domain socket, and over the network; the latter includes blocks a worker first
fetched from the UFS); ``Cluster.BytesReadUfsAll`` is what the workers read from OSS. So the share of
bytes served from OSS is UfsAll / requested, and the byte hit rate one minus that. The master
aggregates these from the workers' and clients' reports and serves them without a host suffix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from ack_alluxio_training.alluxio_metrics import series, with_labels
from ack_alluxio_training.job_scripts import throughput_probe as probe

#: Bytes clients read from the cache, by path (Alluxio 2.9 metric keys).
REQUESTED_BYTES_KEYS: Final = ("Cluster.BytesReadLocal", "Cluster.BytesReadDomain", "Cluster.BytesReadRemote")
UFS_BYTES_KEY: Final = "Cluster.BytesReadUfsAll"
#: Bytes per *minute* read from all UFSes (a master gauge), the UFS throughput Alluxio itself reports.
UFS_THROUGHPUT_KEY: Final = "Cluster.BytesReadUfsThroughput"
WORKER_USED_KEY: Final = "Worker.CapacityUsed"
WORKER_TOTAL_KEY: Final = "Worker.CapacityTotal"
WORKER_EVICTED_KEY: Final = "Worker.BlocksEvicted"
FUSE_CALLS_KEY: Final = "Fuse.TotalCalls"

#: Dropwizard metrics-jvm names Alluxio registers in every process (``MemoryUsageGaugeSet``,
#: ``GarbageCollectorMetricSet``: collector names with spaces as ``-``). The collectors are JDK 8's
#: default parallel collector (the alluxio/alluxio 2.9 image runs Java 8 and no GC flag is set).
JVM_HEAP_USED: Final = "heap_used"
JVM_HEAP_MAX: Final = "heap_max"
JVM_GC_TIME: Final = ("PS_Scavenge_time", "PS_MarkSweep_time")
#: kube-state-metrics (shipped by ACK's managed Prometheus and by kube-prometheus-stack).
KUBE_RESTARTS: Final = "kube_pod_container_status_restarts_total"
#: NVIDIA DCGM exporter's GPU utilisation gauge (percent), also ACK's GPU monitoring's name.
DCGM_GPU_UTIL: Final = "DCGM_FI_DEV_GPU_UTIL"
#: The throughput probe's gauges (pushed to a Pushgateway by components/job_scripts/throughput_probe.py).
PROBE_METRICS: Final = (probe.REAL_METRIC, probe.SYNTHETIC_METRIC, probe.RATIO_METRIC, probe.FINISHED_METRIC)
#: Names that are not Alluxio's, by source; a test checks every query uses only these and Alluxio's.
OTHER_METRICS: Final = frozenset(
    {JVM_HEAP_USED, JVM_HEAP_MAX, *JVM_GC_TIME, KUBE_RESTARTS, DCGM_GPU_UTIL, *PROBE_METRICS}
)

#: Below this many bytes per second requested, nobody is training: hit-rate and UFS-share alerts wait.
TRAINING_READ_FLOOR_BYTES_PER_SECOND: Final = 10 * 2**20


@dataclass(frozen=True)
class DataPathQueries:
    """Queries scoped to one platform: its Alluxio namespace and the rate window."""

    namespace: str
    window: str = "5m"

    def _in_ns(self, selector: str) -> str:
        return with_labels(selector, f'namespace="{self.namespace}"')

    def _rate(self, selector: str) -> str:
        return f"rate({self._in_ns(selector)}[{self.window}])"

    def requested_bytes_rate(self) -> str:
        """Bytes per second clients read through Alluxio (cache hits and misses alike)."""
        return " + ".join(f"sum({self._rate(series(key))})" for key in REQUESTED_BYTES_KEYS)

    def ufs_bytes_rate(self) -> str:
        """Bytes per second the workers read from OSS."""
        return f"sum({self._rate(series(UFS_BYTES_KEY))})"

    def ufs_throughput_reported(self) -> str:
        """Alluxio's own UFS throughput gauge, per second (it reports bytes per minute)."""
        return f"sum({self._in_ns(series(UFS_THROUGHPUT_KEY))}) / 60"

    def cached_bytes_rate(self) -> str:
        """Bytes per second served from the cache: requested minus what came from OSS."""
        return f"clamp_min(({self.requested_bytes_rate()}) - {self.ufs_bytes_rate()}, 0)"

    def ufs_read_share(self) -> str:
        """Share of the requested bytes that came from OSS (0 with a warm cache)."""
        return f"({self.ufs_bytes_rate()}) / ({self.requested_bytes_rate()})"

    def cache_hit_rate(self) -> str:
        """Byte hit rate of the cache: one minus the UFS share."""
        return f"1 - ({self.ufs_read_share()})"

    def training_reads(self) -> str:
        """True while a training job reads through the cache (requested bytes above the floor)."""
        return f"({self.requested_bytes_rate()}) > {TRAINING_READ_FLOOR_BYTES_PER_SECOND}"

    def worker_used_bytes(self) -> str:
        """Bytes cached on each worker (one worker per node: ``instance`` is the node's address)."""
        return f"max by (instance) ({self._in_ns(series(WORKER_USED_KEY, 'worker'))})"

    def worker_quota_bytes(self) -> str:
        """Tier capacity of each worker: the quota (``cache.quotaPerNode``)."""
        return f"max by (instance) ({self._in_ns(series(WORKER_TOTAL_KEY, 'worker'))})"

    def worker_usage_ratio(self) -> str:
        """Used over quota on each worker; eviction starts at the tier's high watermark."""
        return f"{self.worker_used_bytes()} / {self.worker_quota_bytes()}"

    def worker_evictions_rate(self) -> str:
        """Blocks evicted per second on each worker."""
        return f"sum by (instance) ({self._rate(series(WORKER_EVICTED_KEY, 'worker'))})"

    def fuse_operations_rate(self) -> str:
        """FUSE operations per second on each node (the count of Alluxio's total-calls timer)."""
        return f"sum by (instance) ({self._rate(series(FUSE_CALLS_KEY, 'client', '_count'))})"

    def fuse_latency_seconds(self, quantile: str) -> str:
        """A quantile of FUSE operation latency on each node (the exporter serves timers in seconds)."""
        selector = with_labels(series(FUSE_CALLS_KEY, "client"), f'quantile="{quantile}"')
        return f"max by (instance) ({self._in_ns(selector)})"

    def jvm_heap(self, name: str) -> str:
        """Heap bytes of each Alluxio JVM (``endpoint`` tells master, job master, worker, FUSE apart)."""
        return f"sum by (pod, endpoint) ({self._in_ns(name)})"

    def jvm_gc_seconds_rate(self) -> str:
        """Seconds per second each Alluxio JVM spends collecting (the gauges count milliseconds)."""
        collectors = " + ".join(f"sum by (pod, endpoint) ({self._rate(name)})" for name in JVM_GC_TIME)
        return f"({collectors}) / 1000"

    def fuse_restarts(self, container: str, window: str = "15m") -> str:
        """Restarts of the FUSE container in the window (kube-state-metrics)."""
        selector = f'{KUBE_RESTARTS}{{namespace="{self.namespace}", container="{container}"}}'
        return f"sum by (pod) (increase({selector}[{window}]))"

    @staticmethod
    def probe(name: str) -> str:
        """The probe's last pushed value of one gauge, per training job."""
        return f"max by ({probe.TRAINING_JOB_LABEL}) ({name})"

    @staticmethod
    def gpu_utilisation() -> str:
        """Mean GPU utilisation (percent) per node, where the cluster runs the DCGM exporter."""
        return f"avg by (Hostname) ({DCGM_GPU_UTIL})"
