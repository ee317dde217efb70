"""The monitoring part of a plan: the dashboard JSON as its own file, and where things will be.

Reads only what the program registered (any stack's Grafana dashboard ConfigMaps, PrometheusRules
and Pod/ServiceMonitors), so a plan says where an operator will find the dashboard and the alerts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ack_alluxio_training.dashboard import SIDECAR_LABEL
from ack_alluxio_training.offline.mock_engine import PlanResult, RecordedResource

CONFIG_MAP_TYPE = "kubernetes:core/v1:ConfigMap"
RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
MONITOR_TYPES = ("kubernetes:monitoring.coreos.com/v1:PodMonitor", "kubernetes:monitoring.coreos.com/v1:ServiceMonitor")
DASHBOARDS_DIR = "dashboards"


def _metadata(resource: RecordedResource) -> dict[str, Any]:
    metadata = resource.raw_inputs.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _where(resource: RecordedResource) -> str:
    metadata = _metadata(resource)
    return f"{metadata.get('namespace', '?')}/{metadata.get('name', resource.name)}"


def dashboard_config_maps(result: PlanResult) -> list[RecordedResource]:
    """ConfigMaps the Grafana sidecar imports (label ``grafana_dashboard: "1"``)."""
    return [
        r for r in result.by_type(CONFIG_MAP_TYPE)
        if (_metadata(r).get("labels") or {}).get(SIDECAR_LABEL) == "1"
    ]


def write_dashboards(result: PlanResult, out_dir: Path) -> list[Path]:
    """Each dashboard of each sidecar ConfigMap as ``<out_dir>/dashboards/<file>`` (stale ones removed)."""
    folder = out_dir / DASHBOARDS_DIR
    for stale in folder.glob("*.json"):
        stale.unlink()
    written = []
    for resource in dashboard_config_maps(result):
        for key, text in sorted((resource.raw_inputs.get("data") or {}).items()):
            if isinstance(text, str) and key.endswith(".json"):
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / re.sub(r"[^A-Za-z0-9_.-]+", "_", key)
                path.write_text(text)
                written.append(path)
    return written


def monitoring_summary(result: PlanResult, out_dir: Path) -> list[str]:
    """Lines saying where the dashboard, the alerts and the monitors will be."""
    rules = result.by_type(RULE_TYPE)
    monitors = [r for token in MONITOR_TYPES for r in result.by_type(token)]
    dashboards = dashboard_config_maps(result)
    if not (rules or monitors or dashboards):
        return ["Monitoring: none planned (monitoring.enabled is false): no monitors, alerts or dashboard."]
    lines = ["Monitoring:"]
    for resource in dashboards:
        files = ", ".join(sorted(resource.raw_inputs.get("data") or {}))
        lines.append(
            f"  dashboard  ConfigMap {_where(resource)} (label {SIDECAR_LABEL}=1, for the Grafana sidecar); "
            f"JSON also in {out_dir / DASHBOARDS_DIR} ({files})"
        )
    for resource in rules:
        groups = (resource.raw_inputs.get("spec") or {}).get("groups") or []
        alerts = [rule.get("alert") for group in groups for rule in group.get("rules") or [] if rule.get("alert")]
        names = ", ".join(alerts)
        lines.append(f"  alerts     PrometheusRule {_where(resource)}: {names} (runbooks: docs/operations.md)")
    for resource in monitors:
        kind = resource.type.rsplit(":", 1)[-1]
        lines.append(f"  scraping   {kind} {_where(resource)}")
    return lines
