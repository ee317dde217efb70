"""AlluxioCache under the mock engine: what the engine would receive for dev-like and prod-like stacks.

The node pool and the buckets are stand-ins with the same output attributes as GpuNodePool and
DatasetBucket (docs/CONTRACTS.md), so these tests depend only on the contract.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import kubernetes_validate
import pulumi
import pytest
from pydantic import ValidationError

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import tuning, versions
from ack_alluxio_training.alluxio_cache import AlluxioCache
from ack_alluxio_training.dataset_bucket import ufs_uri
from ack_alluxio_training.offline.mock_engine import PlanResult, RecordedResource, run_program
from ack_alluxio_training.offline.stack_config import config_from_mapping
from ack_alluxio_training.platform_args import alluxio_cache_args
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.settings import PlatformSettings, SettingsError
from tests.test_alluxio_values import (
    DEV,
    K8S_VERSION,
    NODE_SELECTOR,
    PROD,
    TOLERATIONS,
    assert_client_rows,
    assert_guaranteed,
    assert_jvm_matches_cpu,
    merged,
    settings_of,
)

RELEASE = "kubernetes:helm.sh/v3:Release"
JOB = "kubernetes:batch/v1:Job"
SECRET = "kubernetes:core/v1:Secret"


def access_key(dataset: str) -> tuple[str, str]:
    """Recognisable fake credentials per dataset, to hunt for in every input."""
    return f"LTAI5tFAKE{dataset.upper()}ID", f"FakeSecretOf{dataset}0123456789abcdef"


class StandInNodePool:
    """The outputs of GpuNodePool that the Alluxio components read."""

    def __init__(self, host_path: str) -> None:
        self.node_selector = pulumi.Output.from_input(NODE_SELECTOR)
        self.tolerations = pulumi.Output.from_input(TOLERATIONS)
        self.cache_host_path = pulumi.Output.from_input(host_path)


class StandInBucket:
    """The outputs of DatasetBucket that the cache reads; the keys are secrets, as in the contract."""

    def __init__(self, name: str, bucket: str) -> None:
        key_id, key_secret = access_key(name)
        self.bucket_name = pulumi.Output.from_input(bucket)
        self.internal_endpoint = pulumi.Output.from_input("oss-cn-beijing-internal.aliyuncs.com")
        self.access_key_id = pulumi.Output.secret(key_id)
        self.access_key_secret = pulumi.Output.secret(key_secret)


def plan_cache(settings: PlatformSettings) -> PlanResult:
    def program() -> None:
        pool = StandInNodePool(settings.cache.host_path)
        buckets = {d.name: StandInBucket(d.name, d.bucket) for d in settings.datasets}
        cache = AlluxioCache("training-alluxio", alluxio_cache_args(settings, pool, buckets))
        pulumi.export("namespace", cache.namespace)
        pulumi.export("releaseName", cache.release_name)
        pulumi.export("masterHostname", cache.master_hostname)
        pulumi.export("hasWarmup", cache.warmup_job is not None)

    return run_program(config_from_mapping("test", {}), program)


def as_json(value: Any) -> Any:
    """Inputs as a JSON document has them: the engine's whole floats back to integers."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Mapping):
        return {k: as_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [as_json(v) for v in value]
    return value


def only(result: PlanResult, token: str) -> RecordedResource:
    (resource,) = result.by_type(token)
    return resource


@pytest.fixture(scope="module", params=["dev", "prod"])
def planned(request: pytest.FixtureRequest) -> tuple[PlatformSettings, PlanResult]:
    settings = settings_of({"dev": DEV, "prod": PROD}[request.param])
    return settings, plan_cache(settings)


def test_release_of_the_pinned_official_chart(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    release = only(result, RELEASE)
    inputs = release.inputs
    assert inputs["chart"] == "alluxio" and inputs["version"] == versions.ALLUXIO_CHART_VERSION == "0.6.53"
    assert inputs["repositoryOpts"]["repo"] == "https://alluxio-charts.storage.googleapis.com/openSource/2.9.5"
    assert inputs["name"] == av.CACHE_RELEASE_NAME
    assert inputs["values"]["image"] == "alluxio/alluxio" and inputs["values"]["imageTag"] == "2.9.5"
    # In a Namespace of its own, created by the component.
    namespace = only(result, "kubernetes:core/v1:Namespace")
    assert namespace.inputs["metadata"]["name"] == inputs["namespace"] == settings.alluxio.namespace
    component = only(result, "ack-alluxio-training:index:AlluxioCache")
    assert release.parent == namespace.parent == component.urn
    assert result.outputs["namespace"] == settings.alluxio.namespace
    assert result.outputs["releaseName"] == av.CACHE_RELEASE_NAME
    assert result.outputs["masterHostname"] == f"alluxio-master-0.{settings.alluxio.namespace}.svc"


def test_release_values_realise_rows_4_to_13(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    values = only(result, RELEASE).inputs["values"]
    assert_client_rows(values["properties"], settings)
    assert values["properties"][tuning.KEY_SHORT_CIRCUIT_ENABLED] == "true"
    assert values["shortCircuit"]["enabled"] is True and values["shortCircuit"]["policy"] == "local"
    (level,) = values["tieredstore"]["levels"]
    assert level["type"] == "hostPath" and level["mediumtype"] == "MEM"
    assert level["path"] == settings.cache.host_path
    assert memory_bytes(level["quota"]) == memory_bytes(settings.cache.quota_per_node)
    worker = values["worker"]
    assert worker["hostNetwork"] is True
    assert worker["nodeSelector"] == NODE_SELECTOR and worker["tolerations"] == TOLERATIONS
    assert memory_bytes(worker["resources"]["requests"]["memory"]) >= memory_bytes(level["quota"])
    alluxio = settings.alluxio
    for component, resources in (
        ("master", alluxio.master),
        ("jobMaster", alluxio.job_master),
        ("worker", alluxio.worker),
        ("jobWorker", alluxio.job_worker),
    ):
        assert_guaranteed(values[component]["resources"], resources.cpu, resources.memory)
        assert_jvm_matches_cpu(values[component]["jvmOptions"], resources.cpu)
    assert values["fuse"] == {"enabled": False}


def test_root_mount_is_the_first_dataset(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    master = only(result, RELEASE).inputs["values"]["master"]["properties"]
    first = settings.datasets[0]
    assert master["alluxio.master.mount.table.root.ufs"] == ufs_uri(first.bucket, first.prefix)
    assert master["alluxio.master.mount.table.root.option.fs.oss.endpoint"] == "oss-cn-beijing-internal.aliyuncs.com"


def test_access_keys_stay_in_the_secret(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    keys = [value for d in settings.datasets for value in access_key(d.name)]
    secret = only(result, SECRET)
    # Nowhere else: not in the Release values (the chart's ConfigMap), not in any Job or other input.
    for resource in result.resources:
        if resource is not secret:
            text = json.dumps(resource.inputs)
            assert not any(key in text for key in keys), f"an access key reached {resource.type} {resource.name}"
    # In the Secret, and still a Pulumi secret there.
    assert secret.secret_input_paths == ["stringData"]
    data = secret.inputs["stringData"]
    root_id, root_secret = access_key(settings.datasets[0].name)
    site = data[av.SITE_PROPERTIES_FILE]
    assert f"alluxio.master.mount.table.root.option.fs.oss.accessKeyId={root_id}" in site
    assert f"alluxio.master.mount.table.root.option.fs.oss.accessKeySecret={root_secret}" in site
    for dataset in settings.datasets[1:]:
        id_key, secret_key = av.secret_key_names(dataset.name)
        assert (data[id_key], data[secret_key]) == access_key(dataset.name)
    # The chart mounts it into the master, which reads the site file from there.
    values = only(result, RELEASE).inputs["values"]
    folder = values["secrets"]["master"][secret.inputs["metadata"]["name"]]
    assert values["master"]["properties"]["alluxio.site.conf.dir"] == f"/secrets/{folder}/"
    assert secret.urn in only(result, RELEASE).dependencies


def test_warmup_is_off_in_dev_and_on_in_prod(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    warmups = [job for job in result.by_type(JOB) if job.name.endswith("-warmup")]
    assert result.outputs["hasWarmup"] is settings.is_production
    assert len(warmups) == (1 if settings.is_production else 0)


def test_prod_jobs_mount_then_warm_up() -> None:
    settings = settings_of(PROD)
    result = plan_cache(settings)
    release = only(result, RELEASE)
    jobs = {job.name.rsplit("-", 1)[-1]: job for job in result.by_type(JOB)}
    assert set(jobs) == {"mount", "warmup"}
    for job in jobs.values():
        kubernetes_validate.validate(as_json(job.inputs), K8S_VERSION, strict=True)
        (container,) = job.inputs["spec"]["template"]["spec"]["containers"]
        assert_guaranteed(container["resources"], "1", "1Gi")
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["ALLUXIO_JAVA_OPTS"] == "-Dalluxio.master.hostname=alluxio-master-0.alluxio.svc"
        assert release.urn in job.dependencies
    assert jobs["mount"].urn in jobs["warmup"].dependencies
    mount_script = jobs["mount"].inputs["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "mount_dataset /coco" in mount_script
    warmup_script = jobs["warmup"].inputs["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "distributedLoad /\n" in warmup_script and "distributedLoad /coco" in warmup_script


def test_warmup_can_be_turned_on_in_dev() -> None:
    result = plan_cache(settings_of(merged(DEV, cache={"warmup": True})))
    (job,) = result.by_type(JOB)
    kubernetes_validate.validate(as_json(job.inputs), K8S_VERSION, strict=True)
    assert not [j for j in result.by_type(JOB) if j.name.endswith("-mount")]


def test_a_cache_too_small_for_the_data_warns(monkeypatch: pytest.MonkeyPatch) -> None:
    warnings: list[str] = []
    monkeypatch.setattr(pulumi.log, "warn", lambda message, *args, **kwargs: warnings.append(message))
    plan_cache(settings_of(PROD))
    assert warnings == []
    small = merged(DEV)
    small["datasets"][0]["sizeGib"] = 12
    plan_cache(settings_of(small))
    assert len(warnings) == 1 and "row 13" in warnings[0]


def test_worker_memory_without_room_beside_the_tier_is_a_config_error() -> None:
    settings = settings_of(merged(DEV, alluxio={"worker": {"cpu": "1", "memory": "5Gi"}}))
    # Refused while mapping settings, before any resource: a plain stand-in suffices.
    pool = SimpleNamespace(node_selector=NODE_SELECTOR, tolerations=TOLERATIONS, cache_host_path="/dev/shm/x")
    with pytest.raises(SettingsError, match=r"alluxio\.worker\.memory"):
        alluxio_cache_args(settings, pool, {})


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        ({"cache": {"hostPath": "/dev/shm/alluxio cache"}}, r"cache\.hostPath: "),
        ({"datasets": [{**DEV["datasets"][0], "prefix": "tf records"}]}, r"datasets(\[0\]|\.0)\.prefix"),
        ({"datasets": [{**DEV["datasets"][0], "prefix": "tf$records"}]}, r"datasets(\[0\]|\.0)\.prefix"),
    ],
)
def test_values_the_chart_java_opts_cannot_carry_are_config_errors(overrides: dict[str, Any], key: str) -> None:
    """Regression: the tier path and the root UFS URI land in one-line ALLUXIO_*_JAVA_OPTS of the ConfigMap.

    The settings model refuses them already (plain ASCII paths and prefixes); the mapping refuses
    whatever a hand-built settings object still carries."""
    pool = SimpleNamespace(node_selector=NODE_SELECTOR, tolerations=TOLERATIONS, cache_host_path="/dev/shm/x")
    with pytest.raises((SettingsError, ValidationError), match=key.removesuffix(": ")):
        alluxio_cache_args(settings_of(merged(DEV, **overrides)), pool, {})
