"""The Grafana dashboard of the data path, as code (Grafana's grafana-foundation-sdk builders).

One panel per figure the study measured or an operator needs when those figures drift; each panel's
description says what a healthy value is on the study's shape (docs/observability.md explains them
at length). The queries come from :class:`DataPathQueries`, the same the alerts use. The JSON is
deterministic (sorted keys) so plans and ConfigMaps do not churn.
"""

from __future__ import annotations

from typing import Final

from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders.dashboard import (
    Dashboard,
    DatasourceVariable,
    Row,
    ThresholdsConfig,
)
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, Threshold, ThresholdsMode

from ack_alluxio_training.data_path_queries import JVM_HEAP_MAX, JVM_HEAP_USED, DataPathQueries
from ack_alluxio_training.job_scripts import throughput_probe as probe

DASHBOARD_UID: Final = "ack-alluxio-training-data-path"
DASHBOARD_TITLE: Final = "ACK Alluxio training: data path"
#: File name of the dashboard in its ConfigMap (the Grafana sidecar writes it under this name).
DASHBOARD_FILE: Final = "ack-alluxio-training-data-path.json"
#: Label the Grafana sidecar (kube-prometheus-stack's default) watches ConfigMaps for.
SIDECAR_LABEL: Final = "grafana_dashboard"
_DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")


def _query(expr: str, legend: str) -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).datasource(_DATASOURCE)


def _steps(*steps: tuple[float | None, str]) -> ThresholdsConfig:
    return ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps([Threshold(value=v, color=c) for v, c in steps])


def _timeseries(title: str, description: str, unit: str, *targets: Dataquery) -> TimeseriesPanel:
    panel = TimeseriesPanel().title(title).description(description).unit(unit).datasource(_DATASOURCE).height(8)
    for ref_id, target in zip("ABCDEFGH", targets, strict=False):
        panel = panel.with_target(target.ref_id(ref_id))
    return panel.span(12)


def _stat(title: str, description: str, unit: str, target: Dataquery, thresholds: ThresholdsConfig) -> StatPanel:
    return (
        StatPanel()
        .title(title)
        .description(description)
        .unit(unit)
        .datasource(_DATASOURCE)
        .with_target(target.ref_id("A"))
        .thresholds(thresholds)
        .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"]))
        .height(8)
        .span(6)
    )


def data_path_dashboard(queries: DataPathQueries, *, hit_rate_floor: float, probe_ratio_floor: float) -> Dashboard:
    """The dashboard builder: cache, FUSE, JVMs, and what the GPUs get."""
    q = queries
    return (
        Dashboard(DASHBOARD_TITLE)
        .uid(DASHBOARD_UID)
        .tags(["alluxio", "ack", "training"])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("browser")
        .with_variable(DatasourceVariable("datasource").label("Prometheus").type("prometheus"))
        .with_row(Row("Cache: is the data served from memory?"))
        .with_panel(
            _stat(
                "Cache hit rate (bytes)",
                "Share of the bytes clients read that did not come from OSS. Warm cache on the study's shape: "
                "about 100%.",
                "percentunit",
                _query(q.cache_hit_rate(), "hit rate"),
                _steps((None, "red"), (hit_rate_floor, "green")),
            )
        )
        .with_panel(
            _timeseries(
                "Bytes read: from the cache vs from OSS",
                "Bytes per second served from the cache and read from OSS (the UFS), plus Alluxio's own UFS "
                "throughput gauge. During training with a warm cache the OSS lines stay near zero.",
                "Bps",
                _query(q.cached_bytes_rate(), "from cache"),
                _query(q.ufs_bytes_rate(), "from OSS"),
                _query(q.ufs_throughput_reported(), "UFS throughput (Alluxio's gauge)"),
            ).span(18)
        )
        .with_panel(
            _timeseries(
                "Worker storage used vs quota, per node",
                "Bytes cached on each node's worker against its tier quota (cache.quotaPerNode). Eviction "
                "starts at cache.highWatermark of the quota.",
                "bytes",
                _query(q.worker_used_bytes(), "used {{instance}}"),
                _query(q.worker_quota_bytes(), "quota {{instance}}"),
            )
        )
        .with_panel(
            _timeseries(
                "Blocks evicted per second, per node",
                "Should be zero when the dataset fits the cache (row 13).",
                "ops",
                _query(q.worker_evictions_rate(), "{{instance}}"),
            )
        )
        .with_row(Row("FUSE: does the mount keep up with the readers?"))
        .with_panel(
            _timeseries(
                "FUSE operations per second, per node",
                "All FUSE calls served by each node's FUSE process.",
                "ops",
                _query(q.fuse_operations_rate(), "{{instance}}"),
            )
        )
        .with_panel(
            _timeseries(
                "FUSE operation latency",
                "Median and 99th percentile of FUSE call latency on each node.",
                "s",
                _query(q.fuse_latency_seconds("0.5"), "p50 {{instance}}"),
                _query(q.fuse_latency_seconds("0.99"), "p99 {{instance}}"),
            )
        )
        .with_row(Row("JVMs: master, workers, FUSE"))
        .with_panel(
            _timeseries(
                "JVM heap used vs max",
                "Heap of each Alluxio process (endpoint web/job-web on master and worker pods; FUSE has one).",
                "bytes",
                _query(q.jvm_heap(JVM_HEAP_USED), "used {{pod}} {{endpoint}}"),
                _query(q.jvm_heap(JVM_HEAP_MAX), "max {{pod}} {{endpoint}}"),
            )
        )
        .with_panel(
            _timeseries(
                "JVM time in GC",
                "Seconds per second each process spends collecting; sustained values above 0.1 starve reads.",
                "percentunit",
                _query(q.jvm_gc_seconds_rate(), "{{pod}} {{endpoint}}"),
            )
        )
        .with_row(Row("What the GPUs get"))
        .with_panel(
            _stat(
                "Probe: real / synthetic",
                "Last throughput probe's ratio. The study: 0.967 (3.29% below synthetic).",
                "percentunit",
                _query(q.probe(probe.RATIO_METRIC), "{{training_job}}"),
                _steps((None, "red"), (probe_ratio_floor, "green")),
            )
        )
        .with_panel(
            _timeseries(
                "Probe: images per second",
                "Real and synthetic throughput of the last probe. The study: 31,068.8 img/s real on 4 x 8 V100.",
                "short",
                _query(q.probe(probe.REAL_METRIC), "real {{training_job}}"),
                _query(q.probe(probe.SYNTHETIC_METRIC), "synthetic {{training_job}}"),
            ).span(6)
        )
        .with_panel(
            _timeseries(
                "GPU utilisation, per node",
                "Where the cluster runs NVIDIA's DCGM exporter (ACK GPU monitoring). Data-bound training shows "
                "as utilisation well below 100% while FUSE and OSS are busy.",
                "percent",
                _query(q.gpu_utilisation(), "{{Hostname}}"),
            )
        )
    )


def dashboard_json(queries: DataPathQueries, *, hit_rate_floor: float, probe_ratio_floor: float) -> str:
    """The dashboard model as Grafana imports it (deterministic JSON)."""
    model = data_path_dashboard(queries, hit_rate_floor=hit_rate_floor, probe_ratio_floor=probe_ratio_floor).build()
    return JSONEncoder(sort_keys=True, indent=2).encode(model) + "\n"


def dashboard_config_map(*, name: str, namespace: object, labels: dict[str, str], json_text: str) -> dict[str, object]:
    """The ConfigMap the Grafana sidecar imports (label ``grafana_dashboard: "1"``)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "ack-alluxio-training", **labels, SIDECAR_LABEL: "1"},
        },
        "data": {DASHBOARD_FILE: json_text},
    }
