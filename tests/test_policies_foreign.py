"""Foreign stacks read right: Alluxio however it is deployed, with the chart's real defaults.

The fixture foreign-helm-v3-chart-stack.json is a stack that installed the chart with
``kubernetes:helm.sh/v3:Chart`` and default values: the chart object carries nothing, its rendered
StatefulSet and DaemonSet (children) carry chart 0.6.53's defaults (requests 1 core, limits 4).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ack_alluxio_training.offline.policy_runner import evaluate
from ack_alluxio_training.policies.alluxio_manifests import is_alluxio_image
from tests.fixtures.policies.examples import resources

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT.parent / "shared" / "reference" / "alluxio" / "helm-chart-0.6.53"
FOREIGN = "foreign-helm-v3-chart-stack.json"
PROD = {"all": "mandatory"}


def _messages(items: list[dict[str, Any]], policy: str) -> list[str]:
    return [v.message for v in evaluate(items, PROD).for_policy(policy)]


def test_a_v3_chart_with_default_values_is_reported_with_the_charts_real_defaults() -> None:
    cpu = _messages(resources(FOREIGN), "alluxio-cpu-requests-limits")
    assert len(cpu) == 4  # master, job master, worker, job worker
    assert any("container 'alluxio-master' (master): cpu request '1'" in m and "limit '4'" in m for m in cpu)
    assert all("so the pod is Burstable" in m for m in cpu)
    network = _messages(resources(FOREIGN), "alluxio-short-circuit-local")
    assert any("container 'alluxio-worker' (worker): spec.template.spec.hostNetwork is not true" in m for m in network)


def test_a_guaranteed_plain_manifest_passes() -> None:
    items = resources(FOREIGN)
    for item in items:
        spec = item.get("inputs", {}).get("spec", {})
        for template in [spec["template"]] if "template" in spec else []:
            template["spec"]["hostNetwork"] = True
            for container in template["spec"]["containers"]:
                container["resources"]["requests"]["cpu"] = container["resources"]["limits"]["cpu"]
    assert _messages(items, "alluxio-cpu-requests-limits") == []
    assert _messages(items, "alluxio-short-circuit-local") == []


def test_a_container_is_recognised_by_its_first_argument_when_renamed() -> None:
    items = resources(FOREIGN)
    worker = next(i for i in items if i["urn"].endswith("alluxio-worker"))
    worker["inputs"]["spec"]["template"]["metadata"]["labels"] = {}
    worker["inputs"]["spec"]["template"]["spec"]["containers"][0]["name"] = "cache"
    assert any("container 'cache' (worker)" in m for m in _messages(items, "alluxio-cpu-requests-limits"))


def test_children_of_a_v4_chart_are_left_to_the_charts_values() -> None:
    items = resources(FOREIGN)
    for item in items:
        item["parent"] = item.get("parent", "").replace("helm.sh/v3:Chart", "helm.sh/v4:Chart")
    assert _messages(items, "alluxio-cpu-requests-limits") == []


def test_other_images_are_not_alluxio() -> None:
    items = resources(FOREIGN)
    for item in items:
        spec = item.get("inputs", {}).get("spec", {})
        if "template" in spec:
            spec["template"]["metadata"]["labels"] = {"app": "web"}
            for container in spec["template"]["spec"]["containers"]:
                container["image"] = "nginx:1.27"
    assert _messages(items, "alluxio-cpu-requests-limits") == []


@pytest.mark.parametrize(
    ("image", "alluxio"),
    [("alluxio/alluxio:2.9.5", True), ("registry.cn-beijing.aliyuncs.com/acme/alluxio/alluxio:2.9.5", True),
     ("alluxio/alluxio-fuse@sha256:abc", True), ("docker.io/alluxio/alluxio", True),
     ("localhost:5000/alluxio/alluxio:1", True),
     ("nginx", False), ("alluxio-proxy/alluxio", False), ("acme/alluxio:2.9.5", False), (None, False)],
)
def test_alluxio_images(image: str | None, alluxio: bool) -> None:
    assert is_alluxio_image(image) is alluxio


RELEASE: dict[str, Any] = {
    "urn": "urn:pulumi:prod::vision-team::kubernetes:helm.sh/v3:Release::alluxio",
    "type": "kubernetes:helm.sh/v3:Release",
    "inputs": {"chart": "alluxio", "version": "0.6.53", "namespace": "alluxio", "values": {}},
}


def test_a_release_with_empty_values_is_reported_with_the_charts_defaults_in_every_rule() -> None:
    release = copy.deepcopy(RELEASE)
    report = evaluate([release], PROD)
    cpu = [v.message for v in report.for_policy("alluxio-cpu-requests-limits")]
    assert any("master: cpu request '1' (values.master.resources.requests.cpu (chart 0.6.53 default)) and limit "
               "'4' (values.master.resources.limits.cpu (chart 0.6.53 default))" in m for m in cpu)
    processors = [v.message for v in report.for_policy("alluxio-jvm-active-processor-count")]
    assert any("-XX:ActiveProcessorCount=4 expected for cpu limit '4'" in m for m in processors)
    circuit = [v.message for v in report.for_policy("alluxio-short-circuit-local")]
    assert any("values.shortCircuit.policy (chart 0.6.53 default) is 'uuid'" in m for m in circuit)
    assert any("values.tieredstore.levels[0] (chart 0.6.53 default) type is 'emptyDir'" in m for m in circuit)
    everything = "\n".join(v.message for v in report.violations)
    assert "request unset" not in everything and "limit unset" not in everything  # defaults are values
    assert "None" not in everything


def test_a_release_that_nulls_a_default_has_it_removed_as_helm_would() -> None:
    release = copy.deepcopy(RELEASE)
    release["inputs"]["values"] = {"master": {"resources": {"requests": None}}}
    cpu = [v.message for v in evaluate([release], PROD).for_policy("alluxio-cpu-requests-limits")]
    assert any("master: cpu request unset (values.master.resources.requests.cpu)" in m for m in cpu)


def test_one_release_is_not_called_both_releases() -> None:
    report = evaluate([copy.deepcopy(RELEASE)], PROD)
    assert not any("both releases" in text for text in report.remediation_steps.values())
    client = [v.message for v in report.for_policy("alluxio-no-passive-cache")]
    assert client and all("(the job workers, which load the cache as clients)" in m for m in client)
    assert not any(", jobWorker:" in m for m in client)


def test_the_rendered_chart_with_default_values_is_read_like_the_fixture() -> None:
    from ack_alluxio_training.offline import chart_render

    if not CHART.exists():
        pytest.skip(f"the reference chart is not at {CHART}")
    try:
        rendered = chart_render.render_release(CHART, release="alluxio", namespace="default", values={},
                                               chart_version="0.6.53")
    except chart_render.RenderUnavailableError as exc:
        pytest.skip(str(exc))
    chart_urn = "urn:pulumi:prod::vision-team::kubernetes:helm.sh/v3:Chart::alluxio"
    items: list[dict[str, Any]] = [{"urn": chart_urn, "type": "kubernetes:helm.sh/v3:Chart", "inputs": {}}]
    for obj in rendered.objects:
        api = obj["apiVersion"] if "/" in obj["apiVersion"] else f"core/{obj['apiVersion']}"
        token = f"kubernetes:{api}:{obj['kind']}"
        items.append({"urn": f"urn:pulumi:prod::vision-team::kubernetes:helm.sh/v3:Chart${token}::"
                             f"default/{obj['metadata']['name']}", "type": token, "inputs": obj, "parent": chart_urn})
    cpu = _messages(items, "alluxio-cpu-requests-limits")
    assert {m.split(":", 1)[0] for m in cpu} >= {
        "StatefulSet 'alluxio-master', container 'alluxio-master' (master)",
        "DaemonSet 'alluxio-worker', container 'alluxio-worker' (worker)",
    }
    assert all("cpu request '1'" in m and "limit '4'" in m for m in cpu)
    read_type = _messages(items, "alluxio-read-type-cache")
    assert read_type and read_type[0].startswith("ConfigMap 'alluxio-config' (the FUSE client and the job workers")


def test_a_v4_chart_is_read_from_its_values_with_the_charts_defaults() -> None:
    chart: dict[str, Any] = {"urn": "urn:pulumi:prod::vision-team::kubernetes:helm.sh/v4:Chart::alluxio",
             "type": "kubernetes:helm.sh/v4:Chart",
             "inputs": {"chart": "oci://registry.example.com/charts/alluxio", "version": "0.6.53", "values": {}}}
    cpu = _messages([chart], "alluxio-cpu-requests-limits")
    assert any(m.startswith("Helm chart 'alluxio', worker: cpu request '1' (values.worker.resources.requests.cpu "
                            "(chart 0.6.53 default))") for m in cpu)
    tuned = copy.deepcopy(chart)
    tuned["inputs"]["values"] = {name: {"resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "2"}}}
                                 for name in ("master", "jobMaster", "worker", "jobWorker")}
    assert _messages([tuned], "alluxio-cpu-requests-limits") == []


def test_the_client_rules_read_the_rendered_java_opts() -> None:
    items = resources(FOREIGN)
    passive = _messages(items, "alluxio-no-passive-cache")
    assert passive == ["ConfigMap 'alluxio-config' (the FUSE client and the job workers, which load the cache as "
                       "clients): alluxio.user.file.passive.cache.enabled is unset; set it to 'false' (Alluxio's "
                       "default true copies remote blocks into the local worker on every read)"]
    config = next(i for i in items if i["type"] == "kubernetes:core/v1:ConfigMap")
    config["inputs"]["data"]["ALLUXIO_JAVA_OPTS"] += " -Dalluxio.user.file.passive.cache.enabled=false"
    assert _messages(items, "alluxio-no-passive-cache") == []
    config["inputs"]["data"]["ALLUXIO_FUSE_JAVA_OPTS"] += " -Dalluxio.user.file.passive.cache.enabled=true"
    assert _messages(items, "alluxio-no-passive-cache") == [
        "ConfigMap 'alluxio-config' (the FUSE client): alluxio.user.file.passive.cache.enabled is 'true' (from "
        "data.fuse.jvmOptions); set it to 'false' (Alluxio's default true copies remote blocks into the local worker "
        "on every read)"]


def test_a_config_map_that_is_not_alluxios_is_ignored() -> None:
    other = {"urn": "urn:pulumi:prod::p::kubernetes:core/v1:ConfigMap::app", "type": "kubernetes:core/v1:ConfigMap",
             "inputs": {"metadata": {"name": "app"}, "data": {"JAVA_OPTS": "-Xmx1g"}}}
    assert evaluate([other], PROD).violations == []
