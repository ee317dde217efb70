"""The plan's ``rendered/``: the real chart, rendered by a real Helm, carries every tuning row.

Rows 2-13 reach the cluster only through chart 0.6.53's templates, so these tests read the objects
Helm renders from each stack's values (after the release's post-renderer) instead of the values
we hand it. Row 1 (the node image's kernel) is a node-pool setting that no chart renders; the node
pool tests cover it. The tests skip, saying why, where the chart or the Helm engine is missing.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import tuning
from ack_alluxio_training.offline import chart_render
from ack_alluxio_training.offline.plan import main as plan_main
from ack_alluxio_training.offline.stack_config import load_stack_config
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.settings import PlatformSettings, settings_from_config
from tests.test_alluxio_values import K8S_VERSION

STACKS = ["dev", "staging", "prod"]
WORKLOAD_KINDS = {"StatefulSet", "DaemonSet", "Deployment", "Job"}
#: Which ConfigMap entry carries the JVM options of which container (chart 0.6.53's config template).
JAVA_OPTS_OF_CONTAINER = {
    "alluxio-master": "ALLUXIO_MASTER_JAVA_OPTS",
    "alluxio-job-master": "ALLUXIO_JOB_MASTER_JAVA_OPTS",
    "alluxio-worker": "ALLUXIO_WORKER_JAVA_OPTS",
    "alluxio-job-worker": "ALLUXIO_JOB_WORKER_JAVA_OPTS",
    "alluxio-fuse": "ALLUXIO_FUSE_JAVA_OPTS",
}



UNAVAILABLE = chart_render.unavailable_reason()
pytestmark = pytest.mark.skipif(UNAVAILABLE is not None, reason=f"cannot render the chart: {UNAVAILABLE}")


@pytest.fixture(scope="module", params=STACKS)
def rendered(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[PlatformSettings, dict[str, list[dict[str, Any]]]]:
    stack = request.param
    out = tmp_path_factory.mktemp(f"render-{stack}")
    assert plan_main(["--stack", stack, "--out", str(out), "--no-policy"]) == 0
    config = load_stack_config(stack)
    return settings_from_config(config.values, config.secret_keys), chart_render.rendered_objects(out)


def _one(objects: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    found = [o for o in objects if o["kind"] == kind]
    if kind == "ConfigMap":
        # The release's <fullname>-config; with metrics on the chart also renders <fullname>-metrics.
        found = [o for o in found if o["metadata"]["name"].endswith("-config")]
    assert len(found) == 1, f"{len(found)} {kind} objects"
    return found[0]


def _containers(obj: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    spec = obj["spec"]["template"]["spec"]
    yield from spec.get("initContainers") or []
    yield from spec["containers"]


def _java_opts(config_map: Mapping[str, Any], key: str) -> dict[str, str]:
    """``-Dkey=value`` flags of one ConfigMap entry (later flags win, as in the JVM)."""
    flags: dict[str, str] = {}
    for word in shlex.split(config_map["data"].get(key, "")):
        if word.startswith("-D") and "=" in word:
            name, value = word[2:].split("=", 1)
            flags[name] = value
    return flags


def _jvm_flag(config_map: Mapping[str, Any], key: str, prefix: str) -> str | None:
    words = [w for w in shlex.split(config_map["data"].get(key, "")) if w.startswith(prefix)]
    return words[-1][len(prefix):] if words else None


def test_both_releases_are_rendered(rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]]) -> None:
    _, releases = rendered
    assert set(releases) == {av.CACHE_RELEASE_NAME, av.FUSE_RELEASE_NAME}
    cache_kinds = sorted(o["kind"] for o in releases[av.CACHE_RELEASE_NAME])
    assert {"StatefulSet", "DaemonSet", "ConfigMap"} <= set(cache_kinds)
    fuse = releases[av.FUSE_RELEASE_NAME]
    assert [o["metadata"]["name"] for o in fuse if o["kind"] == "DaemonSet"] == ["alluxio-fuse-fuse"]
    assert not [o for o in fuse if o["kind"] == "StatefulSet"], "the FUSE release renders no master"


def test_every_rendered_object_validates_strictly(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    _, releases = rendered
    for objects in releases.values():
        for obj in objects:
            kubernetes_validate.validate(json.loads(json.dumps(obj)), K8S_VERSION, strict=True)


def test_rows_2_and_3_fuse_mount_options_and_threads(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    settings, releases = rendered
    fuse = _one(releases[av.FUSE_RELEASE_NAME], "DaemonSet")
    container = next(c for c in _containers(fuse) if c["name"] == "alluxio-fuse")
    opts = [a.split("=", 1)[1] for a in container["args"] if a.startswith("--fuse-opts=")]
    assert len(opts) == 1
    options = dict(o.split("=", 1) if "=" in o else (o, "") for o in opts[0].split(","))
    assert options["entry_timeout"] == str(settings.fuse.entry_timeout_seconds)
    assert options["attr_timeout"] == str(settings.fuse.attr_timeout_seconds)
    if all(d.read_only for d in settings.datasets):
        assert {"kernel_cache", "ro"} <= set(options)
    threads = str(av.fuse_max_idle_threads_for(settings))
    if settings.fuse.libfuse_version == 2:
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["MAX_IDLE_THREADS"] == threads
    else:
        assert options["max_idle_threads"] == threads
    assert settings.fuse.mount_point in container["args"]


def test_rows_4_to_9_client_properties_reach_both_config_maps(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    settings, releases = rendered
    expected = av.client_properties(settings)
    for release, entries in ((av.CACHE_RELEASE_NAME, ("ALLUXIO_JAVA_OPTS",)),
                             (av.FUSE_RELEASE_NAME, ("ALLUXIO_JAVA_OPTS", "ALLUXIO_FUSE_JAVA_OPTS"))):
        config_map = _one(releases[release], "ConfigMap")
        for entry in entries:
            flags = _java_opts(config_map, entry)
            for key, value in expected.items():
                assert flags.get(key) == value, f"{release} {entry}: {key}={flags.get(key)!r}, want {value!r}"
    fuse_flags = _java_opts(_one(releases[av.FUSE_RELEASE_NAME], "ConfigMap"), "ALLUXIO_FUSE_JAVA_OPTS")
    assert fuse_flags[tuning.KEY_LIBFUSE_VERSION] == str(settings.fuse.libfuse_version)


def test_row_10_short_circuit_through_one_host_path_on_the_host_network(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    settings, releases = rendered
    host_path = settings.cache.host_path
    worker = next(o for o in releases[av.CACHE_RELEASE_NAME] if o["metadata"]["name"] == "alluxio-worker")
    fuse = _one(releases[av.FUSE_RELEASE_NAME], "DaemonSet")
    for obj, container_name in ((worker, "alluxio-worker"), (fuse, "alluxio-fuse")):
        pod = obj["spec"]["template"]["spec"]
        assert pod["hostNetwork"] is True, f"{obj['metadata']['name']}: hostNetwork"
        tier_volumes = [v["name"] for v in pod["volumes"] if (v.get("hostPath") or {}).get("path") == host_path]
        assert len(tier_volumes) == 1, f"{obj['metadata']['name']}: tier volume on {host_path}"
        container = next(c for c in _containers(obj) if c["name"] == container_name)
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts[tier_volumes[0]] == host_path, "same path inside as on the host: short-circuit is a file read"
        assert not [v for v in pod["volumes"] if v["name"] == "alluxio-domain"], "policy local: no domain socket"
    for release in (av.CACHE_RELEASE_NAME, av.FUSE_RELEASE_NAME):
        flags = _java_opts(_one(releases[release], "ConfigMap"), "ALLUXIO_JAVA_OPTS")
        assert flags[tuning.KEY_SHORT_CIRCUIT_ENABLED] == "true"
    worker_flags = _java_opts(_one(releases[av.CACHE_RELEASE_NAME], "ConfigMap"), "ALLUXIO_WORKER_JAVA_OPTS")
    assert worker_flags["alluxio.worker.tieredstore.level0.dirs.path"] == host_path


def test_rows_11_and_12_processor_count_and_guaranteed_cpu_per_container(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    _, releases = rendered
    seen = set()
    for objects in releases.values():
        config_map = _one(objects, "ConfigMap")
        for obj in (o for o in objects if o["kind"] in WORKLOAD_KINDS):
            for container in _containers(obj):
                resources = container.get("resources") or {}
                requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
                assert limits.get("cpu") and requests.get("cpu") == limits.get("cpu"), (
                    f"{obj['metadata']['name']}/{container['name']}: cpu request {requests.get('cpu')} "
                    f"!= limit {limits.get('cpu')} (row 12)"
                )
                entry = JAVA_OPTS_OF_CONTAINER.get(container["name"])
                if entry is None:
                    continue
                count = _jvm_flag(config_map, entry, "-XX:ActiveProcessorCount=")
                assert count == str(tuning.active_processor_count(limits["cpu"])), (
                    f"{container['name']}: {entry} has ActiveProcessorCount {count}, cpu limit {limits['cpu']} (row 11)"
                )
                seen.add(container["name"])
    assert seen == set(JAVA_OPTS_OF_CONTAINER), f"containers checked for row 11: {sorted(seen)}"


def test_row_13_tier_quota_holds_the_datasets(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    settings, releases = rendered
    flags = _java_opts(_one(releases[av.CACHE_RELEASE_NAME], "ConfigMap"), "ALLUXIO_WORKER_JAVA_OPTS")
    quota = int(flags["alluxio.worker.tieredstore.level0.dirs.quota"])
    assert quota == memory_bytes(settings.cache.quota_per_node)
    assert flags["alluxio.worker.tieredstore.level0.alias"] == settings.cache.medium
    dataset_bytes = sum(d.size_bytes for d in settings.datasets)
    assert tuning.cache_holds_dataset(quota, settings.node_pool.cache_nodes, dataset_bytes)


def test_a_missing_chart_is_reported_not_fatal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "no-chart"
    assert plan_main(["--stack", "dev", "--out", str(tmp_path / "out"), "--no-policy", "--chart", str(missing)]) == 0
    assert re.search(r"rendered/: skipped: no chart at .*no-chart \(from --chart\)", capsys.readouterr().out)
    assert not (tmp_path / "out" / chart_render.RENDERED_DIR).exists()


def test_a_chart_of_another_version_is_refused(tmp_path: Path) -> None:
    chart = chart_render.chart_location()
    with pytest.raises(chart_render.RenderUnavailableError, match=r"the release asks for 9\.9\.9"):
        chart_render.render_release(chart, release="x", namespace="x", values={}, chart_version="9.9.9")


def test_least_privilege_in_the_rendered_releases(
    rendered: tuple[PlatformSettings, dict[str, list[dict[str, Any]]]],
) -> None:
    """The releases' post-renderer reached every pod: only the FUSE DaemonSet is privileged."""
    settings, releases = rendered
    privileged = []
    for objects in releases.values():
        for obj in (o for o in objects if o["kind"] in WORKLOAD_KINDS):
            name = obj["metadata"]["name"]
            pod = obj["spec"]["template"]["spec"]
            assert pod["automountServiceAccountToken"] is False, name
            for volume in pod.get("volumes") or []:
                if (volume.get("hostPath") or {}).get("path") == settings.cache.host_path:
                    # DirectoryOrCreate: the kubelet would create the tier directory root-owned.
                    assert volume["hostPath"]["type"] == "Directory", name
            if any((c.get("securityContext") or {}).get("privileged") for c in _containers(obj)):
                privileged.append(name)
                continue
            assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}, name
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["runAsUser"] == av.ALLUXIO_UID, name
            for container in _containers(obj):
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False, f"{name}/{container['name']}"
                assert security["capabilities"]["drop"] == ["ALL"], f"{name}/{container['name']}"
    assert privileged == ["alluxio-fuse-fuse"]
    fuse = _one(releases[av.FUSE_RELEASE_NAME], "DaemonSet")
    container = next(c for c in _containers(fuse) if c["name"] == "alluxio-fuse")
    probe = " ".join(container["readinessProbe"]["exec"]["command"])
    assert f" {settings.fuse.mount_point} fuse" in probe
    mount_parent = next(v for v in fuse["spec"]["template"]["spec"]["volumes"] if v["name"] == "alluxio-fuse-mount")
    assert mount_parent["hostPath"]["path"] == av.fuse_mount_parent(settings.fuse.mount_point)
    assert mount_parent["hostPath"]["path"] not in av.SHARED_HOST_DIRECTORIES
