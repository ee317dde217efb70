"""Where Alluxio 2.9 serves its metrics, what chart 0.6.53 labels its pods, and metric names in PromQL.

Pure facts and name functions shared by the Helm values, the monitors, the dashboard and the alerts
(one source for each):

- Every Alluxio process's web server serves ``/metrics/prometheus/``; the chart turns the Prometheus
  sink on with ``metrics.enabled`` and ``metrics.PrometheusMetricsServlet.enabled``. The standalone
  FUSE process starts a web server only with ``alluxio.fuse.web.enabled=true`` (port
  ``alluxio.fuse.web.port``, 49999); chart 0.6.53's FUSE DaemonSet declares no container port and
  does not mount the chart's metrics ConfigMap, so the FUSE target's address is set to that port.
- The exporter is Prometheus' ``DropwizardExports`` over Alluxio's Dropwizard registry (Alluxio's
  ``alluxio.metrics.sink.PrometheusMetricsServlet`` registers ``new DropwizardExports(registry)``
  with the default sample builder). That builder names a sample with the Java client's
  ``Collector.sanitizeMetricName``: every character outside ``[a-zA-Z0-9_:]`` becomes ``_`` (and a
  leading character outside ``[a-zA-Z_:]`` too). Dropwizard counters and gauges are exported as
  gauges under that name, meters as counters with ``_total``, timers as summaries
  (``{quantile=...}`` samples in seconds, plus ``_count``).
- Alluxio's ``MetricsSystem.getMetricName`` names ``Master.*`` and ``Cluster.*`` metrics as they are,
  but appends the process's source name (its hostname, dots as ``_``) to worker and client metrics,
  and prefixes ``Client.`` to any metric of a client process that is not already a client metric:
  the FUSE process is a client, so ``Fuse.TotalCalls`` is served as
  ``Client_Fuse_TotalCalls_<host>``. Such per-process names are matched by ``__name__`` regex.
"""

from __future__ import annotations

import re
from typing import Final, Literal

#: Path of the Prometheus servlet on every Alluxio web server (Alluxio's ``/metrics/prometheus``).
METRICS_PATH: Final = "/metrics/prometheus/"
#: ``alluxio.fuse.web.port``: set explicitly, so the port served and the port scraped are one value.
FUSE_WEB_PORT: Final = 49999

#: Labels chart 0.6.53 puts on its pods: ``app`` is the chart name (no ``nameOverride``), ``release``
#: the Helm release name, ``role`` the process (templates/master/statefulset.yaml,
#: templates/worker/daemonset.yaml, templates/fuse/daemonset.yaml).
CHART_APP_LABEL: Final = "alluxio"
MASTER_ROLE: Final = "alluxio-master"
WORKER_ROLE: Final = "alluxio-worker"
FUSE_ROLE: Final = "alluxio-fuse"
#: Named container ports of the web servers in the master and worker pods (same templates).
WEB_PORT_NAME: Final = "web"
JOB_WEB_PORT_NAME: Final = "job-web"
#: Web ports Prometheus connects to, by chart values section (chart 0.6.53 defaults, which the releases
#: keep) plus FUSE's: what a NetworkPolicy around the Alluxio pods must let the scraper reach.
SCRAPED_PORTS: Final[dict[str, int]] = {
    "master": 19999, "jobMaster": 20002, "worker": 30000, "jobWorker": 30003, "fuse": FUSE_WEB_PORT,
}  # fmt: skip
#: The FUSE container's name (templates/fuse/daemonset.yaml), used by the restart alert.
FUSE_CONTAINER: Final = "alluxio-fuse"

Process = Literal["master", "worker", "client"]
_SANITISE_BODY: Final = re.compile(r"[^a-zA-Z0-9_:]")
_SANITISE_PREFIX: Final = re.compile(r"^[^a-zA-Z_:]")
_INSTANCE_PREFIX: Final[dict[str, str]] = {"master": "Master", "worker": "Worker", "client": "Client"}


def chart_metrics_values() -> dict[str, object]:
    """The chart's ``metrics`` values for a release that runs a master or workers: Prometheus sink on."""
    return {"enabled": True, "PrometheusMetricsServlet": {"enabled": True}}


def chart_pod_labels(release: str, role: str) -> dict[str, str]:
    """The labels that select one process's pods of one release of the chart."""
    return {"app": CHART_APP_LABEL, "release": release, "role": role}


def sanitised(registry_name: str) -> str:
    """A Dropwizard registry name as ``DropwizardExports`` exports it (Prometheus' name rule)."""
    return _SANITISE_BODY.sub("_", _SANITISE_PREFIX.sub("_", registry_name))


def registry_base(key: str, process: Process) -> str:
    """The registry name of a metric key in a process, before any per-host suffix.

    Master and cluster metrics keep their name; a client process (FUSE) prefixes ``Client.`` to a
    metric that is not a client metric already (``Fuse.TotalCalls`` -> ``Client.Fuse.TotalCalls``).
    """
    instance = _INSTANCE_PREFIX[process]
    if key.startswith("Cluster.") or key.startswith(f"{instance}."):
        return key
    return f"{instance}.{key}"


def is_per_host(key: str, process: Process) -> bool:
    """Whether the process appends its source name to the metric (workers and clients do)."""
    return process != "master" and not key.startswith("Cluster.")


def series(key: str, process: Process = "master", suffix: str = "") -> str:
    """A PromQL selector of one Alluxio metric as the process exports it.

    ``suffix`` is the exporter's: ``_total`` for a meter, ``_count`` for a timer's count. A
    per-host metric becomes a ``__name__`` regex matching any host; extra label matchers are
    appended by :func:`with_labels`.
    """
    base = sanitised(registry_base(key, process))
    if is_per_host(key, process):
        return f'{{__name__=~"{base}_.+{suffix}"}}'
    return base + suffix


def with_labels(selector: str, labels: str) -> str:
    """A selector from :func:`series` narrowed by label matchers (``'job="x"'``)."""
    if selector.endswith("}"):
        return f"{selector[:-1]}, {labels}}}"
    return f"{selector}{{{labels}}}"
