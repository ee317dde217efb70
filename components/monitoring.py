"""AlluxioMonitoring: scrape the data path, alert on it, and show it on a Grafana dashboard.

Creates, in one namespace: PodMonitors of the Alluxio master, worker and FUSE pods (and of the
training pods' metrics port when there is one), a PrometheusRule with the data-path alerts and a
ConfigMap holding the Grafana dashboard for the sidecar to import. The objects are built by the
pure modules ``monitoring_objects``, ``alerts`` and ``dashboard``; this module only resolves the
inputs and registers them. The CRDs (monitoring.coreos.com/v1) must exist in the cluster: the
platform creates this component only with ``monitoring.enabled``.

The Kubernetes provider comes from the caller (``providers=[...]`` on this component).
"""


from collections.abc import Mapping
from typing import Any, Required, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s

from ack_alluxio_training import alerts, dashboard, monitoring_objects
from ack_alluxio_training.alluxio_values import CACHE_RELEASE_NAME, FUSE_RELEASE_NAME
from ack_alluxio_training.data_path_queries import DataPathQueries
from ack_alluxio_training.job_manifests import DEFAULT_NAMESPACE

TYPE_TOKEN = "ack-alluxio-training:index:AlluxioMonitoring"
RULE_NAME = "ack-alluxio-training-data-path"
DASHBOARD_CONFIG_MAP = "ack-alluxio-training-dashboard"


class AlluxioMonitoringArgs(TypedDict, total=False):
    """Inputs of AlluxioMonitoring."""

    namespace: Required[pulumi.Input[str]]
    """Namespace of the monitors, the rule and the dashboard ConfigMap."""
    alluxio_namespace: Required[pulumi.Input[str]]
    """Namespace of the Alluxio releases (the pods the monitors select, the queries' scope)."""
    cache_release: str
    """Helm release name of the master/worker release (the pods' ``release`` label; default 'alluxio')."""
    fuse_release: str
    """Helm release name of the FUSE release (default 'alluxio-fuse')."""
    labels: pulumi.Input[Mapping[str, str]]
    """Extra labels on every object, for a Prometheus or Grafana that selects by label."""
    scrape_interval: pulumi.Input[str]
    """Scrape interval of every endpoint (default '30s')."""
    training_namespace: pulumi.Input[str]
    """Namespace of the training jobs (default 'default')."""
    training_metrics_port: int | None
    """Port the training pods serve /metrics on; no training monitor when unset (a plain value: it
    decides whether that monitor exists)."""
    cache_hit_rate_floor: Required[pulumi.Input[float]]
    """Alert below this byte hit rate while training reads."""
    ufs_read_share_ceiling: Required[pulumi.Input[float]]
    """Alert above this share of bytes read from OSS while training reads."""
    worker_high_watermark: Required[pulumi.Input[float]]
    """The tier's high watermark: alert when a worker's usage reaches it (eviction)."""
    probe_ratio_floor: Required[pulumi.Input[float]]
    """Alert when the probe's real/synthetic ratio is below this."""


def monitoring_manifests(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Every object of the component from resolved args, keyed by child role."""
    labels = dict(values.get("labels") or {})
    interval = values.get("scrape_interval") or "30s"
    namespace = values["namespace"]
    queries = DataPathQueries(namespace=values["alluxio_namespace"])
    manifests = {
        f"{role}-monitor": manifest
        for role, manifest in monitoring_objects.alluxio_pod_monitors(
            namespace=namespace,
            alluxio_namespace=values["alluxio_namespace"],
            cache_release=values.get("cache_release") or CACHE_RELEASE_NAME,
            fuse_release=values.get("fuse_release") or FUSE_RELEASE_NAME,
            interval=interval,
            labels=labels,
        ).items()
    }
    if values.get("training_metrics_port"):
        manifests["training-monitor"] = monitoring_objects.training_pod_monitor(
            namespace=namespace,
            training_namespace=values.get("training_namespace") or DEFAULT_NAMESPACE,
            port=int(values["training_metrics_port"]),
            interval=interval,
            labels=labels,
        )
    thresholds = alerts.AlertThresholds(
        cache_hit_rate_floor=float(values["cache_hit_rate_floor"]),
        ufs_read_share_ceiling=float(values["ufs_read_share_ceiling"]),
        worker_high_watermark=float(values["worker_high_watermark"]),
        probe_ratio_floor=float(values["probe_ratio_floor"]),
    )
    manifests["alerts"] = alerts.prometheus_rule(
        name=RULE_NAME, namespace=namespace, labels=labels, queries=queries, thresholds=thresholds
    )
    manifests["dashboard"] = dashboard.dashboard_config_map(
        name=DASHBOARD_CONFIG_MAP,
        namespace=namespace,
        labels=labels,
        json_text=dashboard.dashboard_json(
            queries, hit_rate_floor=thresholds.cache_hit_rate_floor, probe_ratio_floor=thresholds.probe_ratio_floor
        ),
    )
    return manifests


def _get(*path: str) -> Any:
    def pick(manifests: Mapping[str, Any]) -> Any:
        node: Any = manifests
        for key in path:
            node = node[key]
        return node

    return pick


class AlluxioMonitoring(pulumi.ComponentResource):
    """PodMonitors, a PrometheusRule and a Grafana dashboard ConfigMap for the data path."""

    # Children (PodMonitors by role, the PrometheusRule, the dashboard ConfigMap) are instance
    # attributes, not class annotations: class annotations are the component package's outputs.
    namespace: pulumi.Output[str]
    """Where the objects are."""
    dashboard_config_map: pulumi.Output[str]
    """Name of the dashboard ConfigMap; resolves once it is registered."""
    prometheus_rule: pulumi.Output[str]
    """Name of the PrometheusRule; resolves once it is registered."""

    def __init__(self, name: str, args: AlluxioMonitoringArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self)
        resolved = pulumi.Output.from_input(cast(dict[str, Any], dict(args)))
        manifests = resolved.apply(monitoring_manifests)
        roles = ["master", "worker", "fuse"] + (["training"] if args.get("training_metrics_port") else [])
        self.monitors: dict[str, k8s.apiextensions.CustomResource] = {
            role: self._custom_resource(f"{name}-{role}-monitor", manifests, f"{role}-monitor", "PodMonitor", child)
            for role in roles
        }
        self.rule: k8s.apiextensions.CustomResource = self._custom_resource(
            f"{name}-alerts", manifests, "alerts", "PrometheusRule", child
        )
        self.dashboard: k8s.core.v1.ConfigMap = k8s.core.v1.ConfigMap(
            f"{name}-dashboard",
            metadata=manifests.apply(_get("dashboard", "metadata")),
            data=manifests.apply(_get("dashboard", "data")),
            opts=child,
        )
        self.namespace = pulumi.Output.from_input(args["namespace"])
        self.dashboard_config_map = pulumi.Output.all(self.dashboard.urn, manifests).apply(
            lambda v: str(v[1]["dashboard"]["metadata"]["name"])
        )
        self.prometheus_rule = pulumi.Output.all(self.rule.urn, manifests).apply(
            lambda v: str(v[1]["alerts"]["metadata"]["name"])
        )
        self.register_outputs(
            {
                "namespace": self.namespace,
                "dashboardConfigMap": self.dashboard_config_map,
                "prometheusRule": self.prometheus_rule,
            }
        )

    @staticmethod
    def _custom_resource(
        resource_name: str, manifests: pulumi.Output[dict[str, dict[str, Any]]], key: str, kind: str,
        opts: pulumi.ResourceOptions,
    ) -> k8s.apiextensions.CustomResource:
        return k8s.apiextensions.CustomResource(
            resource_name,
            api_version=monitoring_objects.API_VERSION,
            kind=kind,
            metadata=manifests.apply(_get(key, "metadata")),
            spec=manifests.apply(_get(key, "spec")),
            opts=opts,
        )
