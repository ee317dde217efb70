"""Monitoring of the data path: monitors that find the chart's real pods, strictly valid objects,
queries that name real Alluxio 2.9 metrics, alerts with runbooks, and the component under mocks.

The chart templates, the metric table and the CRDs come from ../shared/reference (not part of the
project); the tests that need them skip without it, and list-free checks stand in for them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import promql_parser
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ack_alluxio_training import alerts, alluxio_metrics, dashboard, data_path_queries, monitoring_objects
from ack_alluxio_training import alluxio_property_keys as keys
from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training.data_path_queries import DataPathQueries
from ack_alluxio_training.job_scripts import throughput_probe as probe
from ack_alluxio_training.monitoring import AlluxioMonitoring, AlluxioMonitoringArgs, monitoring_manifests
from ack_alluxio_training.offline.mock_engine import PlanResult, RecordedResource, run_program
from ack_alluxio_training.offline.stack_config import config_from_mapping, load_stack_config
from tests.crd_schemas import crd_validator

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference" / "alluxio"
CHART = REFERENCE / "helm-chart-0.6.53"
METRIC_TABLE = REFERENCE / "metric-keys-2.9.tsv"
MONITORING_TYPE = "ack-alluxio-training:index:AlluxioMonitoring"
POD_MONITOR_TYPE = "kubernetes:monitoring.coreos.com/v1:PodMonitor"
RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


@pytest.fixture(scope="module")
def prod() -> PlanResult:
    return run_program(load_stack_config("prod"))


def monitors(result: PlanResult) -> dict[str, RecordedResource]:
    """The planned PodMonitors keyed by the role in their resource name."""
    return {r.name.rsplit("-", 2)[-2]: r for r in result.by_type(POD_MONITOR_TYPE)}


def release_values(result: PlanResult, part: str) -> dict[str, Any]:
    [release] = [r for r in result.by_type(RELEASE_TYPE) if r.inputs["values"][part].get("enabled")]
    values: dict[str, Any] = release.inputs["values"]
    return values


def release_name(result: PlanResult, part: str) -> str:
    [release] = [r for r in result.by_type(RELEASE_TYPE) if r.inputs["values"][part].get("enabled")]
    return str(release.inputs["name"])


# --- metrics on in the releases -------------------------------------------------------------------


def test_prod_releases_have_metrics_on(prod: PlanResult) -> None:
    cache = release_values(prod, "master")
    assert cache["metrics"] == {"enabled": True, "PrometheusMetricsServlet": {"enabled": True}}
    fuse = release_values(prod, "fuse")
    for properties in (fuse["properties"], fuse["fuse"]["properties"]):
        assert properties[keys.KEY_FUSE_WEB_ENABLED] == "true"
        assert properties[keys.KEY_FUSE_WEB_PORT] == str(alluxio_metrics.FUSE_WEB_PORT)


def test_fuse_web_port_is_alluxios_default() -> None:
    """The port we set is the one Alluxio 2.9 would use anyway (PropertyKey.FUSE_WEB_PORT)."""
    table = REFERENCE / "property-keys-2.9.tsv"
    if not table.is_file():
        pytest.skip(f"reference property keys not available at {table}")
    rows = {line.split("\t")[0]: line.split("\t") for line in table.read_text().splitlines()}
    assert rows[keys.KEY_FUSE_WEB_PORT][2] == str(alluxio_metrics.FUSE_WEB_PORT)
    assert rows[keys.KEY_FUSE_WEB_ENABLED][2] == "false"  # why it must be set


def test_scraped_ports_are_the_charts_web_ports() -> None:
    values_file = CHART / "values.yaml"
    if not values_file.is_file():
        pytest.skip(f"reference chart not available at {CHART}")
    values = yaml.safe_load(values_file.read_text())
    for section, port in alluxio_metrics.SCRAPED_PORTS.items():
        if section != "fuse":
            assert values[section]["ports"]["web"] == port, section
    assert "ports" not in values["fuse"]  # the chart has no FUSE web port: alluxio.fuse.web.port decides


# --- monitors select the pods the chart renders, on ports they declare ------------------------------


def test_monitors_select_the_releases_of_the_plan(prod: PlanResult) -> None:
    planned = monitors(prod)
    assert set(planned) == {"master", "worker", "fuse"}
    namespace = prod.by_type("kubernetes:core/v1:Namespace")[0].inputs["metadata"]["name"]
    expected = {
        "master": (release_name(prod, "master"), "alluxio-master"),
        "worker": (release_name(prod, "master"), "alluxio-worker"),
        "fuse": (release_name(prod, "fuse"), "alluxio-fuse"),
    }
    for role, (release, chart_role) in expected.items():
        spec = planned[role].inputs["spec"]
        assert spec["selector"]["matchLabels"] == {"app": "alluxio", "release": release, "role": chart_role}
        assert spec["namespaceSelector"] == {"matchNames": [namespace]}
        assert all(e["path"] == "/metrics/prometheus/" for e in spec["podMetricsEndpoints"])


def test_fuse_monitor_scrapes_the_port_the_fuse_process_serves(prod: PlanResult) -> None:
    [endpoint] = monitors(prod)["fuse"].inputs["spec"]["podMetricsEndpoints"]
    assert "port" not in endpoint and "portNumber" not in endpoint  # the pod declares none
    [relabel] = endpoint["relabelings"]
    port = release_values(prod, "fuse")["fuse"]["properties"][keys.KEY_FUSE_WEB_PORT]
    assert relabel["targetLabel"] == "__address__" and relabel["replacement"] == f"$1:{port}"


def _rendered_pod(template: str, release: str) -> tuple[dict[str, str], set[str]]:
    """The pod template labels and named container ports of one chart template, rendered by hand
    for the values we set (no nameOverride: ``alluxio.name`` is the chart name)."""
    text = (CHART / "templates" / template).read_text()
    text = re.sub(r'\{\{\s*template "alluxio\.name" \.\s*\}\}|\{\{\s*\$name\s*\}\}', "alluxio", text)
    text = re.sub(r"\{\{\s*\.Release\.Name\s*\}\}", release, text)
    pod_template = text.split("  template:\n", 1)[1]
    block = re.search(r"      labels:\n((?:        .+\n)+)", pod_template)
    assert block, template
    labels = dict(re.findall(r"^\s+([a-z]+): (\S+)$", block.group(1), re.MULTILINE))
    ports = set(re.findall(r"containerPort: .+\n\s+name: ([a-z-]+)", pod_template))
    return labels, ports


@pytest.mark.parametrize(
    ("role", "template", "part"),
    [("master", "master/statefulset.yaml", "master"), ("worker", "worker/daemonset.yaml", "master"),
     ("fuse", "fuse/daemonset.yaml", "fuse")],
)  # fmt: skip
def test_monitors_match_the_chart_templates(prod: PlanResult, role: str, template: str, part: str) -> None:
    if not CHART.is_dir():
        pytest.skip(f"reference chart not available at {CHART}")
    labels, ports = _rendered_pod(template, release_name(prod, part))
    spec = monitors(prod)[role].inputs["spec"]
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= labels.items(), (selector, labels)
    named = {e["port"] for e in spec["podMetricsEndpoints"] if "port" in e}
    assert named <= ports, (named, ports)
    if role == "fuse":
        assert not ports  # why the FUSE endpoint rewrites the address instead of naming a port


def test_the_template_reader_sees_the_labels_that_matter() -> None:
    """The hand renderer above must find labels and ports at all, or the subset checks prove nothing."""
    if not CHART.is_dir():
        pytest.skip(f"reference chart not available at {CHART}")
    labels, ports = _rendered_pod("master/statefulset.yaml", "r")
    assert labels["role"] == "alluxio-master" and labels["release"] == "r" and labels["app"] == "alluxio"
    assert {"web", "job-web", "rpc"} <= ports


def test_training_monitor_only_with_a_port() -> None:
    args = _args()
    assert "training-monitor" not in monitoring_manifests(args)
    manifest = monitoring_manifests({**args, "training_metrics_port": 9090})["training-monitor"]
    [endpoint] = manifest["spec"]["podMetricsEndpoints"]
    assert endpoint["relabelings"][0]["replacement"] == "$1:9090"
    assert manifest["spec"]["namespaceSelector"] == {"matchNames": ["default"]}


def test_training_monitor_selects_every_training_pod_role() -> None:
    """Every pod role the job builders give GPUs is selected (the list lives in monitoring_objects)."""
    from ack_alluxio_training import job_manifests as jm
    from tests.test_job_manifests import build, pod_templates

    gpu_roles = set()
    for backend in jm.BACKENDS:
        _, manifest = build("prod", backend)
        for template in pod_templates(manifest).values():
            containers = template["spec"]["containers"]
            if any("nvidia.com/gpu" in c.get("resources", {}).get("limits", {}) for c in containers):
                gpu_roles.add(template["metadata"]["labels"]["app.kubernetes.io/component"])
    assert gpu_roles and gpu_roles <= set(monitoring_objects.TRAINING_POD_ROLES), gpu_roles
    assert jm.PART_OF == monitoring_objects.PART_OF


# --- strictly valid objects -------------------------------------------------------------------------


def _all_manifests(training_port: int | None = 9090) -> dict[str, dict[str, Any]]:
    return monitoring_manifests({**_args(), "training_metrics_port": training_port})


@pytest.mark.parametrize("key", ["master-monitor", "worker-monitor", "fuse-monitor", "training-monitor", "alerts"])
def test_custom_resources_match_their_crd_strictly(key: str) -> None:
    manifest = _all_manifests()[key]
    validator = crd_validator(manifest["kind"].lower())
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert not errors, errors


def test_the_strict_check_catches_a_misplaced_field() -> None:
    manifest = _all_manifests()["master-monitor"]
    manifest["spec"]["podMetricsEndpoints"][0]["targetPorts"] = "web"
    manifest["spec"]["endpoints"] = []
    assert len(list(crd_validator("podmonitor").iter_errors(manifest))) == 2


def test_dashboard_config_map_is_valid_and_labelled_for_the_sidecar() -> None:
    manifest = _all_manifests()["dashboard"]
    kubernetes_validate.validate(manifest, "1.33", strict=True)
    assert manifest["metadata"]["labels"]["grafana_dashboard"] == "1"
    model = json.loads(manifest["data"][dashboard.DASHBOARD_FILE])
    assert model["uid"] == dashboard.DASHBOARD_UID
    assert model["templating"]["list"][0]["query"] == "prometheus"


def test_dashboard_json_is_deterministic() -> None:
    queries = DataPathQueries("alluxio")
    first = dashboard.dashboard_json(queries, hit_rate_floor=0.9, probe_ratio_floor=0.95)
    assert first == dashboard.dashboard_json(queries, hit_rate_floor=0.9, probe_ratio_floor=0.95)


def test_dashboard_has_a_panel_for_each_figure() -> None:
    model = json.loads(dashboard.dashboard_json(DataPathQueries("alluxio"), hit_rate_floor=0.9, probe_ratio_floor=0.95))
    titles = " | ".join(p["title"] for p in model["panels"]).lower()
    for words in ("hit rate", "from the cache vs from oss", "used vs quota", "fuse operations", "latency",
                  "heap", "gc", "real / synthetic", "images per second", "gpu utilisation"):  # fmt: skip
        assert words in titles, words


# --- every metric in every query is a real one ------------------------------------------------------

#: A per-host name as the queries match it: ``<base>_.+`` plus the exporter's suffix, if any.
PER_HOST = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)_\.\+(_[a-z]+)?")


def every_query() -> list[str]:
    """Every expression of the dashboard and of the alerts."""
    queries = DataPathQueries("alluxio")
    model = json.loads(dashboard.dashboard_json(queries, hit_rate_floor=0.9, probe_ratio_floor=0.95))
    exprs = [t["expr"] for p in model["panels"] for t in p.get("targets", [])]
    thresholds = alerts.AlertThresholds(0.9, 0.1, 0.95, 0.95)
    exprs += [rule["expr"] for rule in alerts.data_path_alerts(queries, thresholds)]
    assert len(exprs) >= 20
    return exprs


def _selectors(node: Any) -> list[promql_parser.VectorSelector]:
    """Every vector selector of a parsed expression (a real PromQL parser, not a regex)."""
    if isinstance(node, promql_parser.VectorSelector):
        return [node]
    children: list[Any] = []
    for attribute in ("lhs", "rhs", "expr", "vector_selector"):
        child = getattr(node, attribute, None)
        if child is not None:
            children.append(child)
    children += list(getattr(node, "args", None) or [])
    return [selector for child in children for selector in _selectors(child)]


def metric_names(expr: str) -> tuple[set[str], set[tuple[str, str]]]:
    """Plain metric names, and per-host (base, suffix) regexes, of one expression (which must parse)."""
    names: set[str] = set()
    per_host: set[tuple[str, str]] = set()
    for selector in _selectors(promql_parser.parse(expr)):
        if selector.name:
            names.add(selector.name)
        for matcher in selector.matchers.matchers:
            if matcher.name != "__name__":
                continue
            if matcher.op == promql_parser.MatchOp.Equal:
                names.add(matcher.value)
                continue
            match = PER_HOST.fullmatch(matcher.value)
            assert match and matcher.op == promql_parser.MatchOp.Re, f"unexpected name matcher in {expr}"
            per_host.add((match.group(1), match.group(2) or ""))
    return names, per_host


def test_the_name_extractor_finds_plain_and_per_host_names() -> None:
    names, per_host = metric_names('sum(rate(Cluster_BytesReadLocal{namespace="a"}[5m])) + '
                                   'max by (instance) ({__name__=~"Client_Fuse_TotalCalls_.+_count", pod="x"})')
    assert names == {"Cluster_BytesReadLocal"}
    assert per_host == {("Client_Fuse_TotalCalls", "_count")}
    assert metric_names('sum by (pod) (increase(x_total{a="b"}[15m])) > 0 and on() vector(1)') == ({"x_total"}, set())


def test_every_query_is_valid_promql() -> None:
    for expr in every_query():
        promql_parser.parse(expr)  # raises on a syntax error
    with pytest.raises(ValueError):
        promql_parser.parse("sum(rate(x[5m])")


def alluxio_prometheus_names(table: dict[str, str]) -> tuple[set[str], set[tuple[str, str]]]:
    """What the exporter can serve for each key of the table, in each process that registers it.

    DropwizardExports (io.prometheus simpleclient_dropwizard): names sanitised to [a-zA-Z0-9_:];
    counters and gauges under that name, meters with ``_total``, timers as ``{quantile}`` samples and
    ``_count``. Master/cluster names as they are; worker and client (FUSE) names carry the host.
    """
    suffixes = {"GAUGE": [""], "COUNTER": [""], "METER": ["_total"], "TIMER": ["", "_count"]}
    plain, per_host = set(), set()
    for key, kind in table.items():
        instance = key.split(".", 1)[0]
        for suffix in suffixes.get(kind, []):  # executor-service keys expand to several metrics: not used
            if instance in ("Master", "Cluster"):
                plain.add(alluxio_metrics.sanitised(key) + suffix)
            else:
                process: alluxio_metrics.Process = "worker" if instance == "Worker" else "client"
                per_host.add((alluxio_metrics.sanitised(alluxio_metrics.registry_base(key, process)), suffix))
    return plain, per_host


def test_every_alluxio_name_in_the_queries_is_a_real_2_9_metric() -> None:
    if not METRIC_TABLE.is_file():
        pytest.skip(f"Alluxio metric table not available at {METRIC_TABLE}")
    rows = [line.split("\t") for line in METRIC_TABLE.read_text().splitlines()[1:] if line.strip()]
    plain, per_host = alluxio_prometheus_names({row[0]: row[1] for row in rows})
    for expr in every_query():
        names, host_names = metric_names(expr)
        unknown = sorted(n for n in names if n not in plain and n not in data_path_queries.OTHER_METRICS)
        assert not unknown, (unknown, expr)
        assert host_names <= per_host, (host_names - per_host, expr)


def test_queries_use_only_the_keys_the_module_declares() -> None:
    """Without the table: every Alluxio name is the exporter form of a key the queries module lists."""
    declared = {
        *data_path_queries.REQUESTED_BYTES_KEYS, data_path_queries.UFS_BYTES_KEY, data_path_queries.UFS_THROUGHPUT_KEY,
        data_path_queries.WORKER_USED_KEY, data_path_queries.WORKER_TOTAL_KEY, data_path_queries.WORKER_EVICTED_KEY,
        data_path_queries.FUSE_CALLS_KEY,
    }  # fmt: skip
    plain = {alluxio_metrics.sanitised(k) for k in declared if k.startswith("Cluster.")}
    per_host = {
        alluxio_metrics.sanitised(alluxio_metrics.registry_base(k, "worker" if k.startswith("Worker.") else "client"))
        for k in declared if not k.startswith("Cluster.")
    }  # fmt: skip
    seen = set()
    for expr in every_query():
        names, host_names = metric_names(expr)
        assert names <= plain | data_path_queries.OTHER_METRICS, (names, expr)
        assert {base for base, _ in host_names} <= per_host, (host_names, expr)
        seen |= names | {base for base, _ in host_names}
    assert {"Cluster_BytesReadUfsAll", "Worker_CapacityUsed", "Client_Fuse_TotalCalls", probe.RATIO_METRIC} <= seen


@pytest.mark.parametrize(
    ("name", "exported"),
    [("Cluster.CacheHitRate", "Cluster_CacheHitRate"), ("Process.pool.direct.mem.used", "Process_pool_direct_mem_used"),
     ("1st.metric-name", "_st_metric_name"), ("G1 Old Generation.count", "G1_Old_Generation_count")],
)  # fmt: skip
def test_sanitising_follows_prometheus_name_rules(name: str, exported: str) -> None:
    assert alluxio_metrics.sanitised(name) == exported


@given(st.text(min_size=1, max_size=40))
def test_sanitised_names_are_always_valid_prometheus_names(name: str) -> None:
    assert re.fullmatch(r"[a-zA-Z_:][a-zA-Z0-9_:]*", alluxio_metrics.sanitised(name))


def test_registry_names_follow_alluxios_process_prefixes() -> None:
    assert alluxio_metrics.series("Cluster.BytesReadUfsAll") == "Cluster_BytesReadUfsAll"
    assert alluxio_metrics.series("Worker.CapacityUsed", "worker") == '{__name__=~"Worker_CapacityUsed_.+"}'
    fuse_calls = '{__name__=~"Client_Fuse_TotalCalls_.+_count"}'
    assert alluxio_metrics.series("Fuse.TotalCalls", "client", "_count") == fuse_calls


# --- alerts ---------------------------------------------------------------------------------------------


def test_every_alert_has_a_runbook_entry() -> None:
    text = (ROOT / "docs" / "operations.md").read_text()
    headings = {h.strip().lower() for h in re.findall(r"^#{2,4} (.+)$", text, re.MULTILINE)}
    rules = alerts.data_path_alerts(DataPathQueries("alluxio"), alerts.AlertThresholds(0.9, 0.1, 0.95, 0.95))
    assert len(rules) == 5
    for rule in rules:
        assert rule["annotations"]["runbook"] == f"docs/operations.md#{rule['alert'].lower()}"
        assert rule["alert"].lower() in headings, f"no runbook section for {rule['alert']} in docs/operations.md"
        section = text.split(f"### {rule['alert']}", 1)[1].split("\n### ", 1)[0]
        assert "What it means" in section and "What to do" in section, rule["alert"]


def test_alert_thresholds_come_from_the_settings(prod: PlanResult) -> None:
    [rule] = prod.by_type(RULE_TYPE)
    by_name = {r["alert"]: r["expr"] for g in rule.inputs["spec"]["groups"] for r in g["rules"]}
    cache = json.loads(load_stack_config("prod").values.get("ack-alluxio-training:cache", "{}"))
    watermark = cache.get("highWatermark", 0.95)
    assert by_name["AlluxioWorkerStorageNearQuota"].endswith(f">= {watermark}")
    assert by_name["TrainingProbeRatioLow"].endswith("< 0.95")
    assert 'container="alluxio-fuse"' in by_name["AlluxioFusePodRestarted"]


# --- the component under mocks ---------------------------------------------------------------------------


def _args() -> dict[str, Any]:
    return {
        "namespace": "monitoring",
        "alluxio_namespace": "alluxio",
        "cache_release": av.CACHE_RELEASE_NAME,
        "fuse_release": av.FUSE_RELEASE_NAME,
        "labels": {"release": "kube-prometheus-stack"},
        "scrape_interval": "15s",
        "training_namespace": "default",
        "training_metrics_port": None,
        "cache_hit_rate_floor": 0.9,
        "ufs_read_share_ceiling": 0.1,
        "worker_high_watermark": 0.95,
        "probe_ratio_floor": 0.95,
    }


def plan_component(args: dict[str, Any]) -> PlanResult:
    def program() -> None:
        component = AlluxioMonitoring("obs", AlluxioMonitoringArgs(**args))  # type: ignore[typeddict-item]
        component.prometheus_rule.apply(lambda _: None)

    return run_program(config_from_mapping("test", {}), program)


def test_component_children_are_named_and_parented() -> None:
    result = plan_component({**_args(), "training_metrics_port": 8000})
    [component] = result.by_type(MONITORING_TYPE)
    children = [r for r in result.resources if r.parent == component.urn]
    assert sorted(r.name for r in children) == [
        "obs-alerts", "obs-dashboard", "obs-fuse-monitor", "obs-master-monitor", "obs-training-monitor",
        "obs-worker-monitor",
    ]  # fmt: skip
    for child in children:
        assert child.inputs["metadata"]["namespace"] == "monitoring"
        assert child.inputs["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    monitor = result.named("obs-master-monitor").inputs
    assert {e["interval"] for e in monitor["spec"]["podMetricsEndpoints"]} == {"15s"}


def test_monitoring_off_registers_nothing_of_it() -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.prod.yaml").read_text())
    raw = {**document["config"], "ack-alluxio-training:monitoring": {"enabled": False}}
    result = run_program(config_from_mapping("prod", raw))
    assert not result.by_type(MONITORING_TYPE) and not result.by_type(POD_MONITOR_TYPE)
    assert "monitoring" not in result.outputs


def test_stack_outputs_say_where_the_dashboard_and_alerts_are(prod: PlanResult) -> None:
    assert prod.outputs["monitoring"] == {
        "namespace": "alluxio",
        "dashboardConfigMap": "ack-alluxio-training-dashboard",
        "prometheusRule": "ack-alluxio-training-data-path",
    }


def test_plan_writes_the_dashboard_and_says_where_things_are(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ack_alluxio_training.offline.plan import main

    assert main(["--stack", "prod", "--out", str(tmp_path), "--no-policy"]) == 0
    out = capsys.readouterr().out
    written = json.loads((tmp_path / "dashboards" / dashboard.DASHBOARD_FILE).read_text())
    assert written["title"] == dashboard.DASHBOARD_TITLE
    assert "ConfigMap alluxio/ack-alluxio-training-dashboard" in out
    assert "PrometheusRule alluxio/ack-alluxio-training-data-path: AlluxioCacheHitRateLow" in out
    kinds = {p.name: yaml.safe_load(p.read_text())["kind"] for p in (tmp_path / "manifests").glob("*monitoring*.yaml")}
    assert sorted(kinds.values()) == ["ConfigMap", "PodMonitor", "PodMonitor", "PodMonitor", "PrometheusRule"]


# --- the probe's result where Prometheus reads it ------------------------------------------------------


def test_probe_jobs_push_to_the_configured_pushgateway() -> None:
    import dataclasses

    from ack_alluxio_training import job_manifests as jm
    from tests.test_job_manifests import build, pod_templates

    spec, manifest = build("prod", "mpijob", "probe")
    assert "--pushgateway" not in pod_templates(manifest)["Launcher"]["spec"]["containers"][0]["command"]
    spec = dataclasses.replace(spec, probe_pushgateway_url="http://pushgateway.monitoring:9091")
    command = pod_templates(jm.job_manifest(spec))["Launcher"]["spec"]["containers"][0]["command"]
    assert command[command.index("--pushgateway") + 1] == "http://pushgateway.monitoring:9091"
    assert command[command.index("--training-job") + 1] == spec.job_name
    assert command.index("--training-job") < command.index("--")  # probe flags, not the benchmark's


def test_only_probe_jobs_get_the_pushgateway_from_settings() -> None:
    from ack_alluxio_training import job_manifests as jm
    from ack_alluxio_training.settings import settings_from_config

    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.staging.yaml").read_text())
    raw = {**document["config"], "ack-alluxio-training:monitoring": {"probePushgatewayUrl": "http://pg.monitoring:9091"}}
    config = config_from_mapping("staging", raw)
    settings = settings_from_config(config.values, config.secret_keys)
    urls = {job.mode: jm.job_settings_values(settings, job)["probe_pushgateway_url"] for job in settings.jobs}
    assert urls["probe"] == "http://pg.monitoring:9091"
    assert urls.get("train") is None


@pytest.mark.parametrize("url", ["pushgateway:9091", "ftp://pg", "http://pg:9091/a b", "http://$(id)"])
def test_a_bad_pushgateway_url_is_refused_naming_the_key(url: str) -> None:
    from ack_alluxio_training.settings import SettingsError, settings_from_config

    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    raw = {**document["config"], "ack-alluxio-training:monitoring": {"probePushgatewayUrl": url}}
    config = config_from_mapping("dev", raw)
    with pytest.raises(SettingsError, match=r"monitoring\.probePushgatewayUrl"):
        settings_from_config(config.values, config.secret_keys)


# --- against the chart as Helm really renders it (reference chart and Helm engine) ----------------------


@pytest.fixture(scope="module")
def rendered_prod(prod: PlanResult) -> dict[str, list[dict[str, Any]]]:
    from ack_alluxio_training.offline import chart_render

    try:
        releases = chart_render.render_plan(prod)
    except chart_render.RenderUnavailableError as exc:
        pytest.skip(f"cannot render the chart: {exc}")
    return {r.release: list(r.objects) for r in releases}


def _pod_workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("StatefulSet", "DaemonSet", "Deployment")]


def test_each_monitor_selects_exactly_its_rendered_pods_and_ports(
    prod: PlanResult, rendered_prod: dict[str, list[dict[str, Any]]]
) -> None:
    workloads = [w for objects in rendered_prod.values() for w in _pod_workloads(objects)]
    expected = {"master": "alluxio-master", "worker": "alluxio-worker", "fuse": "alluxio-fuse"}
    for role, monitor in monitors(prod).items():
        spec = monitor.inputs["spec"]
        selector = spec["selector"]["matchLabels"]
        selected = [
            w for w in workloads
            if selector.items() <= w["spec"]["template"]["metadata"]["labels"].items()
            and w["metadata"]["namespace"] in spec["namespaceSelector"]["matchNames"]
        ]  # fmt: skip
        release = release_name(prod, "fuse" if role == "fuse" else "master")
        assert [w["metadata"]["name"] for w in selected] == [f"{release}-{role}"]
        assert selected[0]["spec"]["template"]["metadata"]["labels"]["role"] == expected[role]
        containers = selected[0]["spec"]["template"]["spec"]["containers"]
        declared = {p["name"] for c in containers for p in c.get("ports") or []}
        named = {e["port"] for e in spec["podMetricsEndpoints"] if "port" in e}
        assert named <= declared, (role, named, declared)
        if role == "fuse":
            assert not declared and selected[0]["spec"]["template"]["spec"]["hostNetwork"] is True


def test_rendered_releases_serve_prometheus_metrics(rendered_prod: dict[str, list[dict[str, Any]]]) -> None:
    cache = {o["metadata"]["name"]: o for o in rendered_prod[av.CACHE_RELEASE_NAME] if o["kind"] == "ConfigMap"}
    sinks = cache[f"{av.CACHE_RELEASE_NAME}-metrics"]["data"]["metrics.properties"]
    assert "sink.prometheus.class=alluxio.metrics.sink.PrometheusMetricsServlet" in sinks
    assert "-Dalluxio.metrics.conf.file=/config/metrics/metrics.properties" in (
        cache[f"{av.CACHE_RELEASE_NAME}-config"]["data"]["ALLUXIO_JAVA_OPTS"]
    )
    fuse = {o["metadata"]["name"]: o for o in rendered_prod[av.FUSE_RELEASE_NAME] if o["kind"] == "ConfigMap"}
    fuse_opts = fuse[f"{av.FUSE_RELEASE_NAME}-config"]["data"]["ALLUXIO_FUSE_JAVA_OPTS"]
    assert f"-D{keys.KEY_FUSE_WEB_ENABLED}=true" in fuse_opts.split()
    assert f"-D{keys.KEY_FUSE_WEB_PORT}={alluxio_metrics.FUSE_WEB_PORT}" in fuse_opts.split()


@pytest.mark.parametrize(
    ("monitoring", "fragment"),
    [({"namespace": "Monitoring"}, "monitoring.namespace"), ({"labels": {"release": "a b"}}, "monitoring.labels"),
     ({"labels": {"-bad": "x"}}, "monitoring.labels"), ({"scrapeInterval": "30"}, "monitoring.scrapeInterval"),
     ({"probeRatioFloor": 1.5}, "monitoring.probeRatioFloor"),
     ({"trainingMetricsPort": 0}, "monitoring.trainingMetricsPort")],
)  # fmt: skip
def test_bad_monitoring_settings_name_the_key(monitoring: dict[str, Any], fragment: str) -> None:
    from ack_alluxio_training.settings import SettingsError, settings_from_config

    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.dev.yaml").read_text())
    config = config_from_mapping("dev", {**document["config"], "ack-alluxio-training:monitoring": monitoring})
    with pytest.raises(SettingsError, match=re.escape(fragment)):
        settings_from_config(config.values, config.secret_keys)


def test_good_monitoring_labels_are_accepted() -> None:
    from ack_alluxio_training.settings import MonitoringSettings

    labels = {"release": "kube-prometheus-stack", "example.com/team": "ml", "empty": ""}
    assert MonitoringSettings(labels=labels).labels == labels


# --- the NetworkPolicies let the scrapes and the push through -------------------------------------------


def test_job_network_policy_opens_the_pushgateway_and_the_metrics_port() -> None:
    from ack_alluxio_training import network_policies as np

    closed = np.training_job_policy("training", "probe", reaches_api_server=True)["spec"]
    opened = np.training_job_policy(
        "training", "probe", reaches_api_server=True,
        pushgateway_url="http://pushgateway.monitoring:9091", metrics_port=8000,
    )["spec"]  # fmt: skip
    assert opened["egress"][:-1] == closed["egress"]
    assert opened["egress"][-1] == {"ports": [{"protocol": "TCP", "port": 9091}]}
    assert opened["ingress"] == [*closed["ingress"], {"ports": [{"protocol": "TCP", "port": 8000}]}]
    kubernetes_validate.validate(
        {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "p"}, "spec": opened},
        "1.33", strict=True,
    )


@pytest.mark.parametrize(
    ("url", "port"), [("http://pg", 80), ("https://pg/x", 443), ("http://pg.monitoring:9091", 9091)]
)
def test_url_port(url: str, port: int) -> None:
    from ack_alluxio_training.network_policies import url_port

    assert url_port(url) == port


def test_planned_probe_job_may_reach_its_pushgateway_and_be_scraped() -> None:
    document = yaml.safe_load((ROOT / "stacks" / "Pulumi.staging.yaml").read_text())
    monitoring = {"probePushgatewayUrl": "http://pushgateway.monitoring:9091", "trainingMetricsPort": 8000}
    raw = {**document["config"], "ack-alluxio-training:monitoring": monitoring}
    result = run_program(config_from_mapping("staging", raw))
    policies = result.by_type("kubernetes:networking.k8s.io/v1:NetworkPolicy")
    [policy] = [r for r in policies if r.name.endswith("-network")]
    spec = policy.inputs["spec"]
    assert {"ports": [{"protocol": "TCP", "port": 9091}]} in spec["egress"]
    assert {"ports": [{"protocol": "TCP", "port": 8000}]} in spec["ingress"]
    [job] = [r for r in result.resources if r.inputs.get("kind") == "MPIJob"]
    launcher = job.inputs["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]["command"]
    assert launcher[launcher.index("--pushgateway") + 1] == "http://pushgateway.monitoring:9091"
    assert result.named("training-monitoring-training-monitor").inputs["spec"]["namespaceSelector"] == {
        "matchNames": [job.inputs["metadata"]["namespace"]]
    }
