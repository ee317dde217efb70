"""How the rules read deployments: chart recognition, effective properties, FUSE options, pod
templates, and the proxy-safe readers. Plain functions, tested directly."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pulumi_policy.proxy import UnknownValueError, unknown_checking_proxy

from ack_alluxio_training.policies.alluxio import jvm_size_bytes
from ack_alluxio_training.policies.alluxio_deployments import (
    FUSE,
    JOB_WORKER,
    MASTER,
    WORKER,
    alluxio_deployment,
    alluxio_size_bytes,
    chart_name,
    is_alluxio_chart,
    mount_options_in_args,
)
from ack_alluxio_training.policies.inputs import (
    as_flag,
    as_int,
    as_text,
    key_value_list,
    per_resource,
    share_views,
)
from ack_alluxio_training.policies.workloads import is_training_workload, pod_templates, training_containers

RELEASE = "kubernetes:helm.sh/v3:Release"


@pytest.mark.parametrize(
    "chart",
    [
        "alluxio",
        "alluxio-charts/alluxio",
        "oci://registry-1.docker.io/alluxiocharts/alluxio",
        "oci://example.com/charts/alluxio:0.6.53",
        "https://alluxio-charts.storage.googleapis.com/openSource/2.9.5/alluxio-0.6.53.tgz",
        "./charts/alluxio-0.6.53.tgz",
    ],
)
def test_alluxio_chart_is_recognised_however_it_is_named(chart: str) -> None:
    assert is_alluxio_chart(chart)


@pytest.mark.parametrize("chart", ["nginx", "alluxio-csi", "alluxio-csi-0.1.0.tgz", "bitnami/redis", "", None])
def test_other_charts_are_not_alluxio(chart: str | None) -> None:
    assert not is_alluxio_chart(chart)
    assert chart_name("repo/alluxio-operator") == "alluxio-operator"


def _release(values: dict[str, Any], chart: str = "alluxio") -> Any:
    return alluxio_deployment(RELEASE, {"chart": chart, "values": values, "namespace": "ns"}, "r")


def test_enabled_flags_decide_the_parts_a_release_runs() -> None:
    cache = _release({"fuse": {"enabled": False}})
    fuse = _release({"master": {"enabled": False}, "worker": {"enabled": "false"}, "fuse": {"enabled": True}})
    assert cache is not None and fuse is not None
    assert cache.running == (MASTER, "jobMaster", WORKER, JOB_WORKER)
    assert fuse.running == (FUSE,)
    assert [c.name for c in cache.client_components] == [JOB_WORKER]
    assert [c.name for c in fuse.client_components] == [FUSE]
    assert _release({}, chart="nginx") is None


def test_effective_properties_follow_the_java_options_order() -> None:
    deployment = _release({
        "properties": {"k": "site", "only.site": True},
        "jvmOptions": ["-Dk=site-jvm"],
        "fuse": {"enabled": True, "properties": {"k": "own"}, "jvmOptions": ["-Xmx4g", "-Dk=own-jvm"]},
    })
    assert deployment is not None
    fuse = deployment.components[FUSE]
    assert fuse.property("k") is not None
    assert (fuse.property("k").value, fuse.property("k").origin) == ("own-jvm", "values.fuse.jvmOptions")
    assert fuse.property("only.site").value == "true"
    assert fuse.jvm_flag("-Xmx").value == "-Xmx4g"


def test_fuse_options_from_property_mount_options_and_args() -> None:
    deployment = _release({
        "properties": {"alluxio.fuse.mount.options": "entry_timeout=1,direct_io"},
        "fuse": {"enabled": True, "mountOptions": "entry_timeout=600", "args": ["fuse", "-oattr_timeout=700"]},
    })
    assert deployment is not None
    options = deployment.fuse_mount_options
    assert options["entry_timeout"].value == "600"
    assert options["attr_timeout"].origin == "values.fuse.args"
    assert options["direct_io"].value == ""
    assert mount_options_in_args(["-o", "a,b", "--fuse-opts=c", "-o=d", "-oe"]) == ["a", "b", "c", "d", "e"]


def test_tiers_default_to_the_charts_empty_dir() -> None:
    deployment = _release({})
    assert deployment is not None
    assert [(t.volume_type, t.quota_bytes) for t in deployment.tiers] == [("emptyDir", 2**30)]
    multi = _release({"tieredstore": {"levels": [{"type": "hostPath", "quota": "10Gi,30Gi", "mediumtype": "SSD,HDD"}]}})
    assert multi is not None and multi.cache_bytes_per_worker == 40 * 2**30


@pytest.mark.parametrize(("text", "expected"), [("512MB", 512 * 2**20), ("1GB", 2**30), ("4096", 4096), ("2k", 2048),
                                                ("1.5gb", 3 * 2**29), ("512Mi", None), ("512 MB", None), ("x", None)])
def test_alluxio_sizes_parse_like_alluxio(text: str, expected: int | None) -> None:
    assert alluxio_size_bytes(text) == expected


def test_jvm_sizes() -> None:
    assert jvm_size_bytes("8g") == 8 * 2**30
    assert jvm_size_bytes("512m") == 512 * 2**20
    assert jvm_size_bytes("8gb") is None


@given(st.one_of(st.booleans(), st.integers(-10**6, 10**6), st.text(max_size=5)))
def test_readers_never_raise_on_scalars(value: Any) -> None:
    as_text(value)
    as_flag(value)
    as_int(value)


def test_readers_accept_struct_numbers_and_text() -> None:
    assert as_int(4.0) == 4 and as_int("64") == 64 and as_int(4.5) is None
    assert as_text(True) == "true" and as_text(8.0) == "8"
    assert as_flag("False") is False
    assert key_value_list([{"key": "a", "value": "1"}, {"key": "b"}]) == {"a": "1"}


def test_unknown_values_raise_only_when_read() -> None:
    props = unknown_checking_proxy({
        "chart": "alluxio",
        "values": {"fuse": {"enabled": True, "mountOptions": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}},
    })
    deployment = alluxio_deployment(RELEASE, props, "r")
    assert deployment is not None and deployment.runs(FUSE)
    with pytest.raises(UnknownValueError):
        _ = deployment.fuse_mount_options


def test_per_resource_cache_keys_on_identity() -> None:
    calls: list[int] = []

    @per_resource
    def view(resource_type: str, props: Any, name: str) -> int:
        calls.append(1)
        return len(props)

    first, second = {"a": 1}, {"a": 1}
    assert view("t", first, "n") == view("t", first, "n") == 1
    assert view("t", second, "n") == 1
    assert len(calls) == 2


class _Props(dict[str, Any]):
    """Plain properties that take attributes, as the runner hands them to the rules."""


def _release_props(**changes: Any) -> _Props:
    props: dict[str, Any] = {"chart": "alluxio", "name": "cache", "namespace": "alluxio",
                             "values": {"worker": {"resources": {"limits": {"cpu": "4"}}}}}
    return _Props({**props, **changes})


def test_the_state_reuses_the_view_built_from_equal_inputs() -> None:
    inputs, state = _release_props(), _release_props(status={"status": "deployed"})
    built = alluxio_deployment(RELEASE, inputs, "cache")
    share_views(inputs, state)
    assert alluxio_deployment(RELEASE, state, "cache") is built


@pytest.mark.parametrize(
    "changed", [{"values": {"fuse": {"enabled": True}}}, {"namespace": "other"}, {"version": "0.6.1"}],
)
def test_the_state_builds_its_own_view_when_what_the_view_reads_differs(changed: dict[str, Any]) -> None:
    inputs, state = _release_props(), _release_props(**changed)
    built = alluxio_deployment(RELEASE, inputs, "cache")
    share_views(inputs, state)
    assert alluxio_deployment(RELEASE, state, "cache") is not built


def test_views_are_not_shared_through_proxies() -> None:
    inputs = _release_props()
    built = alluxio_deployment(RELEASE, inputs, "cache")
    proxied = unknown_checking_proxy(dict(inputs))
    share_views(inputs, proxied)
    assert alluxio_deployment(RELEASE, proxied, "cache") is not built


def test_pod_templates_of_each_training_kind() -> None:
    mpi = {"spec": {"mpiReplicaSpecs": {"Launcher": {"template": {}}, "Worker": {"replicas": 4.0, "template": {}}}}}
    templates = pod_templates("kubernetes:kubeflow.org/v2beta1:MPIJob", mpi)
    assert [(t.role, t.replicas, t.reads_data) for t in templates] == [("Launcher", 1, False), ("Worker", 4, True)]
    job = pod_templates("kubernetes:batch/v1:Job", {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}})
    assert job[0].path == "spec.template" and job[0].replicas == 1
    assert not is_training_workload("kubernetes:batch/v1:Job", job)
    train = pod_templates("kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob", {"spec": {"trainer": {
        "numNodes": 2, "resourcesPerNode": {"limits": {"nvidia.com/gpu": "8"}}}}})
    assert train[0].replicas == 2
    assert training_containers(train[0])[0][1]["name"] == "node"
    assert pod_templates("kubernetes:core/v1:ConfigMap", {}) == []
