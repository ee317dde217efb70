"""Guardrail: every Alluxio deployment exposes metrics, so the data path can be watched.

A release of the ``alluxio`` chart (any repository) or a Fluid ``AlluxioRuntime`` that exports no
metrics leaves an operator blind to a cold cache, evictions or a slow FUSE: the figures the study
tuned for. Advisory everywhere: it costs no correctness, only sight.

What counts as a metrics sink, per process:

- master and workers of a chart release: ``metrics.enabled`` and at least one sink of the chart's
  ``metrics`` section enabled (``PrometheusMetricsServlet`` is what PodMonitors scrape);
- a standalone FUSE process: ``alluxio.fuse.web.enabled=true`` (its only metrics endpoint; 2.9's
  default is false, and the chart's FUSE DaemonSet does not mount the metrics ConfigMap);
- a Fluid runtime: Prometheus is on unless ``spec.disablePrometheus`` is true.
"""

from __future__ import annotations

from typing import Final

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, Severity

from ack_alluxio_training import alluxio_property_keys as keys
from ack_alluxio_training.policies.alluxio import shown, where
from ack_alluxio_training.policies.alluxio_deployments import (
    FUSE,
    MASTER,
    WORKER,
    alluxio_deployment,
    could_be_alluxio,
    helm_runs_embedded_fuse,
)
from ack_alluxio_training.policies.guardrails import ResourceGuardrail
from ack_alluxio_training.policies.inputs import as_flag, as_mapping, dig

#: The sinks chart 0.6.53's ``metrics`` section can enable (templates/config/alluxio-metrics.yaml).
CHART_SINKS: Final = ("PrometheusMetricsServlet", "ConsoleSink", "CsvSink", "JmxSink", "GraphiteSink", "Slf4jSink")


def _chart_sinks(values: object) -> list[str]:
    metrics = as_mapping(dig(values, "metrics"))
    if as_flag(metrics.get("enabled")) is not True:
        return []
    return [sink for sink in CHART_SINKS if as_flag(dig(metrics, sink, "enabled")) is True]


def _metrics_sink(args: ResourceValidationArgs, report: ReportViolation) -> None:
    deployment = alluxio_deployment(args.resource_type, args.props, args.name)
    if deployment is None:
        return
    if deployment.fluid:
        if as_flag(dig(args.props, "spec", "disablePrometheus")) is True:
            report(f"{where(deployment)}: spec.disablePrometheus is true, so nothing scrapes its master, workers "
                   "or FUSE; remove it (Fluid exports Prometheus metrics by default)", None)
        return
    if (deployment.runs(MASTER) or deployment.runs(WORKER)) and not _chart_sinks(args.props.get("values")):
        report(f"{where(deployment)}: no metrics sink (values.metrics.enabled with a sink such as "
               "PrometheusMetricsServlet.enabled), so the cache hit rate, UFS reads and worker usage are not "
               "exported; set metrics.enabled: true and metrics.PrometheusMetricsServlet.enabled: true", None)
    if deployment.runs(FUSE) and not helm_runs_embedded_fuse(args.props):
        fuse = deployment.components[FUSE]
        setting = fuse.property(keys.KEY_FUSE_WEB_ENABLED)
        if setting is None or setting.value.strip().lower() != "true":
            report(f"{where(deployment, fuse)}: {keys.KEY_FUSE_WEB_ENABLED} is {shown(setting)}, so the FUSE "
                   "process serves no metrics (FUSE calls, latency, its JVM); set it to true in fuse.properties",
                   None)


ALLUXIO_METRICS_SINK = ResourceGuardrail(
    name="alluxio-metrics-sink",
    description=(
        "Every Alluxio deployment (a release of the alluxio chart, a Fluid AlluxioRuntime) exports metrics: the "
        "master and workers through a metrics sink, a standalone FUSE process through its web server, so the cache "
        "hit rate, UFS reads, worker usage and FUSE latency can be scraped and alerted on."
    ),
    severity=Severity.LOW,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps=(
        "Chart release with master or workers: metrics.enabled: true and metrics.PrometheusMetricsServlet.enabled: "
        "true. FUSE release: alluxio.fuse.web.enabled: 'true' in fuse.properties (port alluxio.fuse.web.port, "
        "49999). Fluid: drop spec.disablePrometheus. Then scrape /metrics/prometheus/ on each web port "
        "(docs/observability.md)."
    ),
    applies_to=could_be_alluxio,
    validate=_metrics_sink,
    tags=("alluxio", "observability"),
)

POLICIES: Final = [ALLUXIO_METRICS_SINK]
