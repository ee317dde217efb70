"""The PrometheusRule of the data path: alerts for what breaks or slows training.

Each alert's ``runbook`` annotation points at its section in docs/operations.md (a test checks every
alert has one). Thresholds come from the stack's settings (``monitoring.*``, ``cache.highWatermark``)
so the alert and the setting an operator changes are the same number.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ack_alluxio_training import alluxio_metrics as am
from ack_alluxio_training.data_path_queries import DataPathQueries
from ack_alluxio_training.job_scripts import throughput_probe as probe
from ack_alluxio_training.monitoring_objects import API_VERSION, PART_OF

RUNBOOK_DOC: Final = "docs/operations.md"
GROUP_NAME: Final = "ack-alluxio-training.data-path"


@dataclass(frozen=True)
class AlertThresholds:
    """The numbers the alerts compare against (settings supply them)."""

    cache_hit_rate_floor: float
    ufs_read_share_ceiling: float
    worker_high_watermark: float
    probe_ratio_floor: float


def runbook_anchor(alert: str) -> str:
    """The Markdown anchor of an alert's runbook section (its heading is the alert name)."""
    return alert.lower()


def _alert(name: str, expr: str, duration: str, severity: str, summary: str, description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": duration,
        "labels": {"severity": severity},
        "annotations": {
            "summary": summary,
            "description": description,
            "runbook": f"{RUNBOOK_DOC}#{runbook_anchor(name)}",
        },
    }


def data_path_alerts(queries: DataPathQueries, thresholds: AlertThresholds) -> list[dict[str, Any]]:
    """The five alerts, in the order of docs/operations.md."""
    t = thresholds
    training = queries.training_reads()
    return [
        _alert(
            "AlluxioCacheHitRateLow",
            f"({queries.cache_hit_rate()}) < {t.cache_hit_rate_floor} and on() ({training})",
            "10m",
            "warning",
            "Alluxio byte hit rate below {{ $value | humanizePercentage }} while training reads",
            f"Less than {t.cache_hit_rate_floor:.0%} of the bytes training reads come from the cache: the "
            "cache is cold, too small for the dataset, or blocks are being evicted.",
        ),
        _alert(
            "AlluxioWorkerStorageNearQuota",
            f"{queries.worker_usage_ratio()} >= {t.worker_high_watermark}",
            "5m",
            "warning",
            "Alluxio worker {{ $labels.instance }} at {{ $value | humanizePercentage }} of its tier quota",
            f"Usage reached the tier's high watermark ({t.worker_high_watermark:.0%}): the worker evicts blocks, "
            "and training will read them from OSS again (row 13: the cache must hold the dataset).",
        ),
        _alert(
            "AlluxioUfsReadsHighDuringTraining",
            f"({queries.ufs_read_share()}) > {t.ufs_read_share_ceiling} and on() ({training})",
            "10m",
            "warning",
            "{{ $value | humanizePercentage }} of the bytes training reads come from OSS",
            f"More than {t.ufs_read_share_ceiling:.0%} of the data path's bytes are read from OSS: the cache "
            "misses, and the GPUs wait on the network.",
        ),
        _alert(
            "AlluxioFusePodRestarted",
            f"{queries.fuse_restarts(am.FUSE_CONTAINER)} > 0",
            "0m",
            "critical",
            "Alluxio FUSE pod {{ $labels.pod }} restarted",
            "The FUSE process restarted: training pods started before it on that node keep a dead mount "
            "and fail or hang on reads until they are restarted.",
        ),
        _alert(
            "TrainingProbeRatioLow",
            f"{queries.probe(probe.RATIO_METRIC)} < {t.probe_ratio_floor}",
            "0m",
            "warning",
            "Throughput probe {{ $labels.training_job }}: real data at {{ $value | humanizePercentage }} "
            "of synthetic",
            f"The data path costs the GPUs more than {1 - t.probe_ratio_floor:.0%} of their synthetic "
            "throughput (the study: 3.29%).",
        ),
    ]


def prometheus_rule(
    *, name: str, namespace: object, labels: Mapping[str, str], queries: DataPathQueries, thresholds: AlertThresholds
) -> dict[str, Any]:
    """The PrometheusRule manifest holding the data-path alerts."""
    return {
        "apiVersion": API_VERSION,
        "kind": "PrometheusRule",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": PART_OF, **labels}},
        "spec": {"groups": [{"name": GROUP_NAME, "rules": data_path_alerts(queries, thresholds)}]},
    }
