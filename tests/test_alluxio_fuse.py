"""AlluxioFuse under the mock engine, wired to a real AlluxioCache as the platform wires them."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pulumi
import pytest
from pydantic import ValidationError

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import tuning, versions
from ack_alluxio_training.alluxio_cache import AlluxioCache
from ack_alluxio_training.alluxio_fuse import AlluxioFuse
from ack_alluxio_training.offline.mock_engine import PlanResult, RecordedResource, run_program
from ack_alluxio_training.offline.stack_config import config_from_mapping
from ack_alluxio_training.platform_args import alluxio_cache_args, alluxio_fuse_args
from ack_alluxio_training.settings import PlatformSettings, SettingsError
from tests.test_alluxio_cache import StandInBucket, StandInNodePool, access_key
from tests.test_alluxio_values import (
    DEV,
    NODE_SELECTOR,
    PROD,
    TOLERATIONS,
    assert_client_rows,
    assert_guaranteed,
    assert_jvm_matches_cpu,
    jvm_bytes,
    jvm_flag,
    merged,
    settings_of,
)

FUSE_TYPE = "ack-alluxio-training:index:AlluxioFuse"


def plan_platform(settings: PlatformSettings) -> PlanResult:
    def program() -> None:
        pool = StandInNodePool(settings.cache.host_path)
        buckets = {d.name: StandInBucket(d.name, d.bucket) for d in settings.datasets}
        cache = AlluxioCache("training-alluxio", alluxio_cache_args(settings, pool, buckets))
        fuse = AlluxioFuse(
            "training-alluxio-fuse",
            alluxio_fuse_args(settings, pool, cache),
            pulumi.ResourceOptions(depends_on=[cache]),
        )
        pulumi.export("masterHostname", cache.master_hostname)
        pulumi.export("fuseNamespace", fuse.namespace)
        pulumi.export("mountPoint", fuse.mount_point)
        pulumi.export("maxIdleThreads", fuse.max_idle_threads)

    return run_program(config_from_mapping("test", {}), program)


def fuse_release(result: PlanResult) -> RecordedResource:
    (component,) = result.by_type(FUSE_TYPE)
    (release,) = [r for r in result.by_type("kubernetes:helm.sh/v3:Release") if r.parent == component.urn]
    return release


@pytest.fixture(scope="module", params=["dev", "prod"])
def planned(request: pytest.FixtureRequest) -> tuple[PlatformSettings, PlanResult]:
    settings = settings_of({"dev": DEV, "prod": PROD}[request.param])
    return settings, plan_platform(settings)


def test_own_release_beside_the_workers(planned: tuple[PlatformSettings, PlanResult]) -> None:
    _, result = planned
    release = fuse_release(result).inputs
    cache_release = next(r for r in result.by_type("kubernetes:helm.sh/v3:Release") if r.inputs["name"] == "alluxio")
    assert release["chart"] == "alluxio" and release["version"] == versions.ALLUXIO_CHART_VERSION
    assert release["repositoryOpts"] == cache_release.inputs["repositoryOpts"]
    # Own release name and full name, so no object of the two releases shares a name...
    assert release["name"] == release["values"]["fullnameOverride"] == av.FUSE_RELEASE_NAME
    assert cache_release.inputs["values"]["fullnameOverride"] != av.FUSE_RELEASE_NAME
    # ...in the workers' namespace, where the chart's podAffinity to the workers can be met.
    assert release["namespace"] == cache_release.inputs["namespace"] == result.outputs["fuseNamespace"]
    values = release["values"]
    assert values["master"] == {"enabled": False, "count": 0} and values["worker"] == {"enabled": False}
    assert values["fuse"]["enabled"] is True
    assert values["imageTag"] == "2.9.5"


def test_points_at_the_caches_master(planned: tuple[PlatformSettings, PlanResult]) -> None:
    _, result = planned
    values = fuse_release(result).inputs["values"]
    master = result.outputs["masterHostname"]
    assert values["properties"]["alluxio.master.hostname"] == master
    assert values["fuse"]["properties"]["alluxio.master.hostname"] == master
    # Regression: master.count 0, or the chart prepends -Dalluxio.master.hostname=alluxio-fuse-master-0.
    assert values["master"]["count"] == 0


def test_mount_point_lands_on_both_chart_keys(planned: tuple[PlatformSettings, PlanResult]) -> None:
    """Regression: the DaemonSet reads fuse.mountPoint, the ConfigMap's -Dalluxio.fuse.mount.point fuse.mountPath."""
    settings, result = planned
    fuse = fuse_release(result).inputs["values"]["fuse"]
    assert fuse["mountPoint"] == fuse["mountPath"] == settings.fuse.mount_point == result.outputs["mountPoint"]


def test_fuse_values_realise_the_table(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    values = fuse_release(result).inputs["values"]
    fuse = values["fuse"]
    # Rows 4-9: the FUSE process is the client that matters.
    assert_client_rows(values["properties"], settings)
    assert_client_rows(fuse["properties"], settings)
    # Row 2.
    options = fuse["mountOptions"].split(",")
    assert "entry_timeout=7200" in options and "attr_timeout=7200" in options
    assert {"kernel_cache", "ro", "allow_other"} <= set(options) and "direct_io" not in options
    # Row 3: libfuse2 (the 2.9 image's patched build) with the thread count in its environment.
    threads = av.fuse_max_idle_threads_for(settings)
    assert fuse["properties"][tuning.KEY_LIBFUSE_VERSION] == "2"
    assert fuse["env"] == {"MAX_IDLE_THREADS": str(threads)}
    assert result.outputs["maxIdleThreads"] == threads
    # Row 7: a heap that holds the metadata cache.
    entries = int(fuse["properties"][tuning.KEY_METADATA_CACHE_MAX_SIZE])
    assert jvm_bytes(jvm_flag(fuse["jvmOptions"], "-Xmx")) >= tuning.metadata_cache_heap_bytes(entries)
    # Row 10: the workers' hostPath tier, host network, on the GPU cache nodes.
    (level,) = values["tieredstore"]["levels"]
    assert level["type"] == "hostPath" and level["path"] == settings.cache.host_path
    assert values["shortCircuit"]["enabled"] is True and values["shortCircuit"]["policy"] == "local"
    assert fuse["hostNetwork"] is True
    assert fuse["nodeSelector"] == NODE_SELECTOR and fuse["tolerations"] == TOLERATIONS
    # Rows 11-12.
    resources = settings.fuse.resources
    assert_guaranteed(fuse["resources"], resources.cpu, resources.memory)
    assert_jvm_matches_cpu(fuse["jvmOptions"], resources.cpu)
    assert result.outputs["mountPoint"] == fuse["mountPoint"] == settings.fuse.mount_point


def test_fuse_and_workers_share_the_tier(planned: tuple[PlatformSettings, PlanResult]) -> None:
    _, result = planned
    releases = result.by_type("kubernetes:helm.sh/v3:Release")
    tiers = {json.dumps(r.inputs["values"]["tieredstore"], sort_keys=True) for r in releases}
    short_circuits = {json.dumps(r.inputs["values"]["shortCircuit"], sort_keys=True) for r in releases}
    assert len(tiers) == len(short_circuits) == 1


def test_no_access_key_in_the_fuse_release(planned: tuple[PlatformSettings, PlanResult]) -> None:
    settings, result = planned
    text = json.dumps(fuse_release(result).inputs)
    for dataset in settings.datasets:
        assert not any(key in text for key in access_key(dataset.name))


def test_libfuse3_and_an_explicit_thread_count() -> None:
    settings = settings_of(merged(PROD, fuse={"libfuseVersion": 3, "maxIdleThreads": 128}))
    result = plan_platform(settings)
    fuse = fuse_release(result).inputs["values"]["fuse"]
    assert "max_idle_threads=128" in fuse["mountOptions"].split(",")
    assert "MAX_IDLE_THREADS" not in (fuse.get("env") or {})
    assert fuse["properties"][tuning.KEY_LIBFUSE_VERSION] == "3"
    assert result.outputs["maxIdleThreads"] == 128


def test_fuse_too_small_for_the_metadata_cache_is_a_config_error() -> None:
    data = merged(DEV)
    data["datasets"][0]["fileCount"] = 1_281_167  # ImageNet as JPEG files
    settings = settings_of(data)

    # Refused while mapping settings, before any resource: plain stand-ins suffice.
    pool = SimpleNamespace(node_selector=NODE_SELECTOR, tolerations=TOLERATIONS, cache_host_path="/dev/shm/x")
    cache = SimpleNamespace(namespace="alluxio", master_hostname="alluxio-master-0.alluxio.svc")
    with pytest.raises(SettingsError, match=r"fuse\.resources\.memory: .*give FUSE at least \d+Gi"):
        alluxio_fuse_args(settings, pool, cache)


@pytest.mark.parametrize(
    ("fuse", "cache", "key"),
    [
        ({"mountPoint": "/alluxio-fuse"}, {}, r"fuse\.mountPoint: .*shared host directory /:"),
        ({"mountPoint": "/mnt/alluxio-fuse"}, {}, r"fuse\.mountPoint: .*shared host directory /mnt:"),
        ({"mountPoint": "/mnt/alluxio fuse"}, {}, r"fuse\.mountPoint"),
        ({"extraMountOptions": ["fsname=alluxio data"]}, {}, r"fuse\.extraMountOptions"),
        ({}, {"hostPath": "/dev/shm/alluxio cache"}, r"cache\.hostPath"),
    ],
)
def test_values_the_chart_would_render_wrongly_are_config_errors(
    fuse: dict[str, Any], cache: dict[str, Any], key: str
) -> None:
    """Refused before any resource: by the settings model (ASCII paths and options), else by the mapping."""
    pool = SimpleNamespace(node_selector=NODE_SELECTOR, tolerations=TOLERATIONS, cache_host_path="/dev/shm/x")
    master = SimpleNamespace(namespace="alluxio", master_hostname="alluxio-master-0.alluxio.svc")
    with pytest.raises((SettingsError, ValidationError), match=key):
        alluxio_fuse_args(settings_of(merged(DEV, fuse=fuse, cache=cache)), pool, master)
