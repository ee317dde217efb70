"""Helm values and Job manifests of the Alluxio releases, built from settings without any engine.

Also home of the dev-like and prod-like settings the component tests share, and of the checks
that every value lands on a key chart 0.6.53 reads and every Alluxio property key is a real one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from ack_alluxio_training import alluxio_property_keys as keys
from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import conventions, tuning, versions
from ack_alluxio_training.durations import duration_seconds
from ack_alluxio_training.quantities import memory_bytes, whole_cpus_rounded_up
from ack_alluxio_training.settings import PlatformSettings
from tests.test_image_references import PINNED_IMAGE

REFERENCE = Path("/work/shared/reference/alluxio")
K8S_VERSION = ".".join(versions.ACK_KUBERNETES_VERSION.split(".")[:2]) + ".0"
HOST_PATH = "/dev/shm/alluxio-cache"
NODE_SELECTOR = {"ack-alluxio-training/role": "gpu-cache"}
TOLERATIONS = [{"key": "ack-alluxio-training/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]

# --- settings shared by the component tests ---------------------------------------------------

DEV: dict[str, Any] = {
    "environment": "dev",
    "region": "cn-beijing",
    "cluster": {"mode": "adopt", "clusterId": "c0123456789abcdef0123456789abcdef"},
    "nodePool": {
        "name": "gpu-dev",
        "instanceTypes": ["ecs.gn7i-c8g1.2xlarge"],
        "gpusPerNode": 1,
        "cpuPerNode": 8,
        "memoryGibPerNode": 30,
        "desiredSize": 1,
    },
    "datasets": [
        {"name": "imagenet", "bucket": "acme-dev-imagenet", "prefix": "tfrecords", "sizeGib": 4, "fileCount": 32}
    ],
    "cache": {"quotaPerNode": "5Gi"},
    "alluxio": {
        "master": {"cpu": "1", "memory": "4Gi"},
        "jobMaster": {"cpu": "500m", "memory": "1Gi"},
        "worker": {"cpu": "1", "memory": "8Gi"},
        "jobWorker": {"cpu": "500m", "memory": "1Gi"},
    },
    "fuse": {"resources": {"cpu": "1", "memory": "4Gi"}},
    "jobs": [
        {
            "name": "resnet50-dev",
            "backend": "job",
            "dataset": "imagenet",
            "workers": 1,
            "gpusPerWorker": 1,
            "resources": {"cpu": "3", "memory": "10Gi"},
            "readerThreads": 8,
            "shmSize": "2Gi",
        }
    ],
}

PROD: dict[str, Any] = {
    "environment": "prod",
    "region": "cn-beijing",
    "cluster": {"mode": "create", "vswitchIds": ["vsw-prd0123456789abcdef"]},
    "nodePool": {
        "name": "gpu-v100",
        "instanceTypes": ["ecs.gn6v-c8g1.16xlarge"],
        "gpusPerNode": 8,
        "cpuPerNode": 64,
        "memoryGibPerNode": 256,
        "desiredSize": 4,
    },
    "datasets": [
        {
            "name": "imagenet",
            "bucket": "acme-prod-imagenet",
            "prefix": "tfrecords",
            "sizeGib": 144,
            "fileCount": 1152,
            "changeInterval": "7d",
        },
        {
            "name": "coco",
            "bucket": "acme-prod-coco",
            "sizeGib": 10,
            "fileCount": 123_000,
            "changeInterval": "1d",
        },
    ],
    "cache": {"quotaPerNode": "40Gi", "hostPath": HOST_PATH},
    "alluxio": {"master": {"cpu": "4", "memory": "16Gi"}, "worker": {"cpu": "8", "memory": "56Gi"}},
    "fuse": {"resources": {"cpu": "7500m", "memory": "16Gi"}},
    "jobs": [
        {
            "name": "resnet50-horovod",
            "backend": "mpijob",
            "dataset": "imagenet",
            "image": PINNED_IMAGE,
            "workers": 4,
            "gpusPerWorker": 8,
            "resources": {"cpu": "32", "memory": "120Gi"},
            "readerThreads": 16,
        }
    ],
}


def merged(base: Mapping[str, Any], **overrides: Any) -> dict[str, Any]:
    """A deep copy of ``base`` with top-level sections replaced or merged (dict sections merge)."""
    result = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = {**result[key], **value}
        else:
            result[key] = value
    return result


def settings_of(data: Mapping[str, Any]) -> PlatformSettings:
    return PlatformSettings.model_validate(data)


STACKS = {"dev": DEV, "prod": PROD}


@pytest.fixture(params=sorted(STACKS))
def settings(request: pytest.FixtureRequest) -> PlatformSettings:
    return settings_of(STACKS[request.param])


def cache_values(settings: PlatformSettings) -> dict[str, Any]:
    return av.cache_release_values(
        alluxio_version=settings.alluxio.version,
        resources=av.cache_resources(settings),
        tier=av.cache_tier(settings),
        cache_host_path=settings.cache.host_path,
        node_selector=NODE_SELECTOR,
        tolerations=TOLERATIONS,
        client_properties=av.client_properties(settings),
        root_ufs_uri="oss://bucket/prefix/",
        root_endpoint="oss-cn-beijing-internal.aliyuncs.com",
        root_read_only=len(settings.datasets) == 1,
        journal=av.Journal(storage_class=settings.alluxio.journal_storage_class, size=settings.alluxio.journal_size),
    )


def fuse_values(settings: PlatformSettings) -> dict[str, Any]:
    threads = av.fuse_max_idle_threads_for(settings)
    return av.fuse_release_values(
        alluxio_version=settings.alluxio.version,
        master_host=av.master_hostname(av.CACHE_RELEASE_NAME, settings.alluxio.namespace),
        resources=av.fuse_resources(settings),
        tier=av.cache_tier(settings),
        cache_host_path=settings.cache.host_path,
        node_selector=NODE_SELECTOR,
        tolerations=TOLERATIONS,
        client_properties=av.client_properties(settings),
        mount_point=settings.fuse.mount_point,
        mount_options=tuning.fuse_mount_options(
            entry_timeout_seconds=settings.fuse.entry_timeout_seconds,
            attr_timeout_seconds=settings.fuse.attr_timeout_seconds,
            read_only=all(d.read_only for d in settings.datasets),
            libfuse_version=settings.fuse.libfuse_version,
            max_idle_threads=threads,
        ),
        libfuse_version=settings.fuse.libfuse_version,
        max_idle_threads=threads,
    )


# --- helpers that read values the way the chart does -------------------------------------------


def jvm_flag(options: list[str], prefix: str) -> str:
    """Value of the last JVM option starting with ``prefix`` (the JVM honours the last one)."""
    found = [o[len(prefix) :] for o in options if o.startswith(prefix)]
    assert found, f"{prefix} missing from {options}"
    return found[-1]


def jvm_bytes(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mMgG])", value).groups()  # type: ignore[union-attr]
    return int(number) * (2**20 if unit in "mM" else 2**30)


def assert_guaranteed(resources: Mapping[str, Mapping[str, str]], cpu: str, memory: str) -> None:
    """Row 12: requests and limits present and equal (no cpu_shares=2)."""
    assert resources["requests"] == resources["limits"] == {"cpu": cpu, "memory": memory}


def assert_jvm_matches_cpu(options: list[str], cpu: str) -> None:
    """Row 11: ActiveProcessorCount is the cpu limit rounded up; GC threads agree with it."""
    processors = int(jvm_flag(options, "-XX:ActiveProcessorCount="))
    assert processors == whole_cpus_rounded_up(cpu)
    assert int(jvm_flag(options, "-XX:ParallelGCThreads=")) == processors
    assert 1 <= int(jvm_flag(options, "-XX:ConcGCThreads=")) <= processors


def assert_client_rows(properties: Mapping[str, Any], settings: PlatformSettings) -> None:
    """Rows 4-9 as the policy would read them."""
    assert properties[tuning.KEY_UFS_READ_LOCATION_POLICY] == tuning.AVOID_EVICTION_POLICY_CLASS
    assert memory_bytes(properties[tuning.KEY_AVOID_EVICTION_RESERVED_BYTES]) > 0
    assert properties[tuning.KEY_PASSIVE_CACHE] == "false"
    assert properties[tuning.KEY_READ_TYPE] == "CACHE"
    assert properties[tuning.KEY_METADATA_CACHE_ENABLED] == "true"
    assert int(properties[tuning.KEY_METADATA_CACHE_MAX_SIZE]) >= sum(d.file_count for d in settings.datasets)
    expiration = duration_seconds(properties[tuning.KEY_METADATA_CACHE_EXPIRATION])
    # One cache for every dataset behind the mount: it expires after the shortest change interval.
    assert expiration == min(duration_seconds(d.change_interval) for d in settings.datasets)
    assert duration_seconds(properties[tuning.KEY_WORKER_LIST_REFRESH]) > 120
    assert properties[tuning.KEY_ACCESS_TIME_UPDATES_DISABLED] == "true"


def property_maps(values: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    """Every ``properties`` map of a values tree (top level and per component)."""
    for key, value in values.items():
        if key == "properties" and isinstance(value, Mapping):
            yield value
        elif isinstance(value, Mapping):
            yield from property_maps(value)


# --- which keys chart 0.6.53 reads ---------------------------------------------------------------

#: Maps whose keys are the user's (properties, env, labels...), not the chart's.
FREE_FORM = {"properties", "env", "nodeSelector", "tolerations", "jvmOptions", "master@secrets"}

#: The keys this package may set, as chart 0.6.53 reads them (values.yaml and its templates).
CHART_PATHS = {
    "fullnameOverride", "image", "imageTag", "imagePullPolicy", "user", "group", "fsGroup", "properties",
    "master.enabled", "master.count", "master.properties", "master.resources.requests.cpu",
    "master.resources.requests.memory",
    "master.resources.limits.cpu", "master.resources.limits.memory", "master.jvmOptions", "master.tolerations",
    "jobMaster.resources.requests.cpu", "jobMaster.resources.requests.memory", "jobMaster.resources.limits.cpu",
    "jobMaster.resources.limits.memory", "jobMaster.jvmOptions",
    "worker.enabled", "worker.resources.requests.cpu", "worker.resources.requests.memory",
    "worker.resources.limits.cpu", "worker.resources.limits.memory", "worker.jvmOptions", "worker.hostNetwork",
    "worker.nodeSelector", "worker.tolerations",
    "jobWorker.resources.requests.cpu", "jobWorker.resources.requests.memory", "jobWorker.resources.limits.cpu",
    "jobWorker.resources.limits.memory", "jobWorker.jvmOptions",
    "tieredstore.levels[].level", "tieredstore.levels[].alias", "tieredstore.levels[].mediumtype",
    "tieredstore.levels[].path", "tieredstore.levels[].type", "tieredstore.levels[].quota",
    "tieredstore.levels[].high", "tieredstore.levels[].low",
    "shortCircuit.enabled", "shortCircuit.policy", "shortCircuit.volumeType",
    "journal.storageClass", "journal.size",
    "secrets.master",
    "metrics.enabled", "metrics.PrometheusMetricsServlet.enabled",
    "fuse.enabled", "fuse.properties", "fuse.jvmOptions", "fuse.env", "fuse.hostNetwork", "fuse.dnsPolicy",
    "fuse.hostPID", "fuse.mountOptions", "fuse.mountPoint", "fuse.mountPath", "fuse.alluxioPath",
    "fuse.resources.requests.cpu",
    "fuse.resources.requests.memory", "fuse.resources.limits.cpu", "fuse.resources.limits.memory",
    "fuse.nodeSelector", "fuse.tolerations",
}  # fmt: skip


#: Keys chart 0.6.53's templates read that its values.yaml does not declare: 0.6.42 renamed
#: ``fuse.mountPath`` to ``fuse.mountPoint`` in values.yaml and the DaemonSet, but
#: templates/config/alluxio-conf.yaml still renders ``-Dalluxio.fuse.mount.point`` from the old key.
TEMPLATE_ONLY_PATHS = {"fuse.mountPath"}


def value_paths(values: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    """Dotted paths of the chart keys a values tree sets (free-form maps count as one key)."""
    for key, value in values.items():
        path = f"{prefix}.{key}" if prefix else key
        if key in FREE_FORM or f"{key}@{prefix}" in FREE_FORM:
            yield path
        elif isinstance(value, Mapping):
            yield from value_paths(value, path)
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            for item in value:
                yield from value_paths(item, f"{path}[]")
        else:
            yield path


def test_values_set_only_keys_the_chart_reads(settings: PlatformSettings) -> None:
    for values in (cache_values(settings), fuse_values(settings)):
        unknown = set(value_paths(values)) - CHART_PATHS
        assert not unknown, f"keys chart 0.6.53 does not read: {sorted(unknown)}"


def test_values_keys_exist_in_the_reference_chart(settings: PlatformSettings) -> None:
    chart_values = REFERENCE / "helm-chart-0.6.53" / "values.yaml"
    if not chart_values.is_file():
        pytest.skip("reference chart values not available")
    text = chart_values.read_text()
    reference = yaml.safe_load(text)
    for values in (cache_values(settings), fuse_values(settings)):
        for path in value_paths(values):
            if path.startswith("secrets."):
                # Documented only as a commented example in values.yaml.
                assert re.search(r"^# secrets:\n#   master:", text, re.MULTILINE)
                continue
            if path in TEMPLATE_ONLY_PATHS:
                # Read by a template only; values.yaml has the new name beside the key's section.
                assert path.split(".")[-1] not in reference[path.split(".")[0]]
                assert "mountPoint" in reference[path.split(".")[0]]
                continue
            node: Any = reference
            for part in path.split("."):
                if part.endswith("[]"):
                    node = node[part[:-2]][0]
                else:
                    assert isinstance(node, dict) and part in node, f"{path} is not in chart 0.6.53's values.yaml"
                    node = node[part]
    # jvmOptions are lists in this chart (the FUSE default is one): ours must be lists too.
    assert isinstance(reference["fuse"]["jvmOptions"], list)
    assert isinstance(reference["fuse"]["mountOptions"], str)


# --- rows 4-13 in the cache release -------------------------------------------------------------


def test_cache_release_realises_the_table(settings: PlatformSettings) -> None:
    values = cache_values(settings)
    alluxio = settings.alluxio
    # Pinned image and its own full name.
    assert values["image"] == "alluxio/alluxio" and values["imageTag"] == "2.9.5"
    assert values["fullnameOverride"] == av.CACHE_RELEASE_NAME
    assert values["fuse"] == {"enabled": False}
    # Rows 4-9 for the job workers and loaders.
    assert_client_rows(values["properties"], settings)
    # Row 10: short-circuit by file, hostPath tier, host network.
    assert values["shortCircuit"]["enabled"] is True and values["shortCircuit"]["policy"] == "local"
    (level,) = values["tieredstore"]["levels"]
    assert level["type"] == "hostPath" and level["path"] == settings.cache.host_path
    assert level["mediumtype"] == level["alias"] == "MEM"
    assert values["worker"]["hostNetwork"] is True
    # Rows 11-12 on all four containers.
    for component, resources in (
        ("master", alluxio.master),
        ("jobMaster", alluxio.job_master),
        ("worker", alluxio.worker),
        ("jobWorker", alluxio.job_worker),
    ):
        assert_guaranteed(values[component]["resources"], resources.cpu, resources.memory)
        assert_jvm_matches_cpu(values[component]["jvmOptions"], resources.cpu)
        options = values[component]["jvmOptions"]
        assert jvm_bytes(jvm_flag(options, "-Xmx")) < memory_bytes(resources.memory)
    # Row 13: the tier quota is the configured one, the worker's memory covers it and its heap fits beside it.
    assert memory_bytes(level["quota"]) == memory_bytes(settings.cache.quota_per_node)
    worker_memory = memory_bytes(values["worker"]["resources"]["requests"]["memory"])
    assert worker_memory >= memory_bytes(level["quota"])
    worker_jvm = values["worker"]["jvmOptions"]
    heap = jvm_bytes(jvm_flag(worker_jvm, "-Xmx")) + jvm_bytes(jvm_flag(worker_jvm, "-XX:MaxDirectMemorySize="))
    assert heap + memory_bytes(level["quota"]) <= worker_memory
    # Workers on the GPU cache nodes only.
    assert values["worker"]["nodeSelector"] == NODE_SELECTOR
    assert values["worker"]["tolerations"] == TOLERATIONS


def test_cache_release_root_mount_and_credentials(settings: PlatformSettings) -> None:
    values = cache_values(settings)
    master = values["master"]["properties"]
    assert master[keys.KEY_ROOT_UFS] == "oss://bucket/prefix/"
    assert master[keys.root_mount_option(keys.OSS_ENDPOINT)].endswith("-internal.aliyuncs.com")
    # The credentials come from the mounted Secret, never from the ConfigMap-bound properties.
    folder = values["secrets"]["master"][av.CREDENTIALS_SECRET_NAME]
    assert master[keys.KEY_SITE_CONF_DIR] == f"/secrets/{folder}/"
    for properties in property_maps(values):
        assert not any("accessKey" in key for key in properties)


def test_root_is_read_only_only_without_nested_mounts() -> None:
    single = cache_values(settings_of(DEV))
    assert single["master"]["properties"][keys.KEY_ROOT_READONLY] == "true"
    nested = cache_values(settings_of(PROD))
    assert keys.KEY_ROOT_READONLY not in nested["master"]["properties"]


def test_worker_memory_below_the_tier_is_refused() -> None:
    settings = settings_of(DEV)
    resources = av.cache_resources(settings)
    resources["worker"] = av.ContainerResources(cpu="1", memory="4Gi")
    with pytest.raises(ValueError, match="row 13"):
        av.cache_release_values(
            alluxio_version="2.9.5",
            resources=resources,
            tier=av.cache_tier(settings),
            cache_host_path=HOST_PATH,
            node_selector=NODE_SELECTOR,
            tolerations=TOLERATIONS,
            client_properties=av.client_properties(settings),
            root_ufs_uri="oss://b/",
            root_endpoint="e",
            root_read_only=True,
            journal=av.Journal(storage_class="x", size="20Gi"),
        )


# --- rows 2-11 in the FUSE release --------------------------------------------------------------


def test_fuse_release_realises_the_table(settings: PlatformSettings) -> None:
    values = fuse_values(settings)
    fuse = values["fuse"]
    assert values["fullnameOverride"] == av.FUSE_RELEASE_NAME
    assert values["fullnameOverride"] != cache_values(settings)["fullnameOverride"]
    assert values["master"] == {"enabled": False, "count": 0} and values["worker"] == {"enabled": False}
    assert fuse["enabled"] is True
    # Rows 4-9 reach the FUSE process whichever opts the launcher puts last.
    for properties in (values["properties"], fuse["properties"]):
        assert_client_rows(properties, settings)
        assert properties[keys.KEY_MASTER_HOSTNAME] == f"alluxio-master-0.{settings.alluxio.namespace}.svc"
        assert properties[tuning.KEY_LIBFUSE_VERSION] == str(settings.fuse.libfuse_version)
    # Row 2.
    options = fuse["mountOptions"].split(",")
    assert f"entry_timeout={settings.fuse.entry_timeout_seconds}" in options
    assert f"attr_timeout={settings.fuse.attr_timeout_seconds}" in options
    assert {"kernel_cache", "ro"} <= set(options) and "direct_io" not in options
    # Row 3: libfuse 2 takes the thread count from the environment.
    assert int(fuse["env"]["MAX_IDLE_THREADS"]) == av.fuse_max_idle_threads_for(settings)
    # Row 10: the same hostPath tier as the workers, host network.
    (level,) = values["tieredstore"]["levels"]
    assert level["type"] == "hostPath" and level["path"] == settings.cache.host_path
    assert values["shortCircuit"] == av.short_circuit()
    assert fuse["hostNetwork"] is True and fuse["dnsPolicy"] == "ClusterFirstWithHostNet"
    # Rows 11-12, and row 7's heap.
    assert_guaranteed(fuse["resources"], settings.fuse.resources.cpu, settings.fuse.resources.memory)
    assert_jvm_matches_cpu(fuse["jvmOptions"], settings.fuse.resources.cpu)
    entries = int(fuse["properties"][tuning.KEY_METADATA_CACHE_MAX_SIZE])
    assert jvm_bytes(jvm_flag(fuse["jvmOptions"], "-Xmx")) >= tuning.metadata_cache_heap_bytes(entries)
    assert fuse["mountPoint"] == settings.fuse.mount_point and fuse["alluxioPath"] == "/"
    assert fuse["nodeSelector"] == NODE_SELECTOR and fuse["tolerations"] == TOLERATIONS


def test_fuse_release_names_only_the_caches_master(settings: PlatformSettings) -> None:
    """Regression: with master.count 1 the chart's ConfigMap (templates/config/alluxio-conf.yaml,
    ``if $isSingleMaster``) put -Dalluxio.master.hostname=alluxio-fuse-master-0 first in ALLUXIO_JAVA_OPTS."""
    values = fuse_values(settings)
    assert values["master"]["enabled"] is False
    assert values["master"]["count"] == 0  # the chart adds its own master hostname only when the count is 1
    master = av.master_hostname(av.CACHE_RELEASE_NAME, settings.alluxio.namespace)
    hostnames = {p[keys.KEY_MASTER_HOSTNAME] for p in property_maps(values)}
    assert hostnames == {master}
    # The cache release keeps its single master (count from the chart default: 1).
    assert "count" not in cache_values(settings)["master"]


def test_fuse_mount_point_also_reaches_the_configmap_key(settings: PlatformSettings) -> None:
    """Regression: the chart's ConfigMap renders -Dalluxio.fuse.mount.point from ``fuse.mountPath``
    (ALLUXIO_FUSE_JAVA_OPTS in templates/config/alluxio-conf.yaml); without it the flag read ``<nil>``."""
    fuse = fuse_values(settings)["fuse"]
    assert fuse["mountPath"] == fuse["mountPoint"] == settings.fuse.mount_point


def test_mount_point_needs_a_parent_of_its_own() -> None:
    # The chart mounts dir(fuse.mountPoint) from the host, bidirectionally, into the privileged pod.
    assert av.fuse_mount_parent("/mnt/alluxio/fuse") == "/mnt/alluxio"
    assert av.fuse_mount_parent("/mnt/alluxio/fuse/") == "/mnt/alluxio"
    assert av.fuse_mount_parent("/data/alluxio/fuse") == "/data/alluxio"
    for bad in ("/alluxio-fuse", "/alluxio/", "mnt/alluxio-fuse", "/mnt/alluxio fuse", "/mnt/alluxio-fuse",
                "/var/alluxio", "/tmp/fuse", "/var/lib/kubelet/fuse", "/dev/shm/fuse"):
        with pytest.raises(ValueError):
            av.fuse_mount_parent(bad)
    assert av.fuse_mount_parent(conventions.DEFAULT_FUSE_MOUNT_POINT) not in av.SHARED_HOST_DIRECTORIES
    settings = settings_of(DEV)
    with pytest.raises(ValueError, match="shared host directory /mnt"):
        av.fuse_release_values(
            alluxio_version="2.9.5",
            master_host="alluxio-master-0.alluxio.svc",
            resources=av.fuse_resources(settings),
            tier=av.cache_tier(settings),
            cache_host_path=HOST_PATH,
            node_selector=NODE_SELECTOR,
            tolerations=TOLERATIONS,
            client_properties=av.client_properties(settings),
            mount_point="/mnt/alluxio-fuse",
            mount_options=["allow_other"],
            libfuse_version=2,
            max_idle_threads=8,
        )


@pytest.mark.parametrize("value", ["a b", "tab\there", 'q"uote', "$HOME", "`id`", "back\\slash", "line\nbreak"])
def test_values_the_java_opts_line_cannot_carry_are_refused(value: str) -> None:
    """Each ALLUXIO_*_JAVA_OPTS is one space-separated line written into alluxio-env.sh in double quotes."""
    with pytest.raises(ValueError, match="ALLUXIO_"):
        av.check_java_opts_value(value, "x")
    with pytest.raises(ValueError):
        av.tier_levels(av.cache_tier(settings_of(DEV)), f"/dev/shm/{value}")
    with pytest.raises(ValueError):
        av.check_fuse_mount_options(["allow_other", f"fsname={value}"])
    settings = settings_of(DEV)
    with pytest.raises(ValueError):
        av.fuse_properties({**av.client_properties(settings), "alluxio.user.app.id": value}, "m", 2)
    with pytest.raises(ValueError):
        av.cache_release_values(
            alluxio_version="2.9.5",
            resources=av.cache_resources(settings),
            tier=av.cache_tier(settings),
            cache_host_path=HOST_PATH,
            node_selector=NODE_SELECTOR,
            tolerations=TOLERATIONS,
            client_properties=av.client_properties(settings),
            root_ufs_uri=f"oss://bucket/{value}/",
            root_endpoint="oss-cn-beijing-internal.aliyuncs.com",
            root_read_only=True,
            journal=av.Journal(storage_class="x", size="20Gi"),
        )


def test_java_opts_checks_pass_deploy_time_values_and_the_tuned_ones(settings: PlatformSettings) -> None:
    deploy_time = object()  # stands in for a Pulumi Output: checked where its setting is mapped
    av.check_java_opts_value(deploy_time, "x")
    av.tier_levels(av.cache_tier(settings), deploy_time)
    for values in (cache_values(settings), fuse_values(settings)):
        for properties in property_maps(values):
            av.check_java_opts_values(properties.values(), "property")
    with pytest.raises(ValueError, match="one option per item"):
        av.check_fuse_mount_options(["allow_other,ro"])
    with pytest.raises(ValueError, match="one option per item"):
        av.check_fuse_mount_options([""])


def test_libfuse3_takes_threads_as_a_mount_option() -> None:
    settings = settings_of(merged(PROD, fuse={"libfuse_version": 3, "resources": {"cpu": "8", "memory": "16Gi"}}))
    values = fuse_values(settings)
    assert "MAX_IDLE_THREADS" not in values["fuse"]["env"]
    assert f"max_idle_threads={av.fuse_max_idle_threads_for(settings)}" in values["fuse"]["mountOptions"].split(",")
    assert values["fuse"]["properties"][tuning.KEY_LIBFUSE_VERSION] == "3"


def test_fuse_threads_follow_the_jobs_unless_overridden() -> None:
    assert av.fuse_max_idle_threads_for(settings_of(PROD)) == 16  # 16 readers x 1 worker per node
    assert av.fuse_max_idle_threads_for(settings_of(DEV)) == 8
    overridden = settings_of(merged(PROD, fuse={"maxIdleThreads": 96}))
    assert av.fuse_max_idle_threads_for(overridden) == 96
    no_jobs = settings_of(merged(PROD, jobs=[]))
    assert av.fuse_max_idle_threads_for(no_jobs) == tuning.DEFAULT_FUSE_MAX_IDLE_THREADS


def test_writable_dataset_drops_ro_and_kernel_cache() -> None:
    data = merged(DEV)
    data["datasets"][0]["readOnly"] = False
    options = fuse_values(settings_of(data))["fuse"]["mountOptions"].split(",")
    assert "ro" not in options and "kernel_cache" not in options and "direct_io" in options


def test_metadata_cache_spans_every_dataset() -> None:
    properties = av.client_properties(settings_of(PROD))
    assert int(properties[tuning.KEY_METADATA_CACHE_MAX_SIZE]) >= 1152 + 123_000
    # coco (1d) beside imagenet (7d): the shared cache expires after the shorter interval.
    assert properties[tuning.KEY_METADATA_CACHE_EXPIRATION] == "1d"


# --- property keys ------------------------------------------------------------------------------


def used_property_keys(settings: PlatformSettings) -> set[str]:
    """Every Alluxio key this package writes: values, the Secret's site file, mount options."""
    used: set[str] = set()
    for values in (cache_values(settings), fuse_values(settings)):
        for properties in property_maps(values):
            used |= set(properties)
    for line in av.site_properties("id", "secret").splitlines():
        if line and not line.startswith("#"):
            used.add(line.split("=", 1)[0])
    manifest = mount_manifest()
    script = manifest["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    used |= set(re.findall(r"--option ([\w.]+)=", script))
    used |= {o.removeprefix("-D").split("=")[0] for o in [av.master_java_opts("m")]}
    return used


def test_every_property_key_is_in_the_table(settings: PlatformSettings) -> None:
    used = used_property_keys(settings)
    assert tuning.KEY_UFS_READ_LOCATION_POLICY in used and keys.OSS_ACCESS_KEY_SECRET in used
    unknown = sorted(k for k in used if not keys.is_known_property_key(k))
    assert not unknown, f"not Alluxio 2.9 keys (or missing from alluxio_property_keys): {unknown}"


def test_misspelt_keys_are_not_known() -> None:
    assert not keys.is_known_property_key("alluxio.user.file.readtype")
    assert not keys.is_known_property_key("alluxio.master.mount.table.root.option.fs.oss.accessKey")
    assert keys.is_known_property_key(keys.root_mount_option(keys.OSS_ENDPOINT))


def test_property_key_table_matches_alluxio_2_9() -> None:
    key_list = REFERENCE / "property-keys-2.9.txt"
    templates = REFERENCE / "property-key-templates-2.9.txt"
    if not key_list.is_file() or not templates.is_file():
        pytest.skip("reference property keys not available")
    known = set(key_list.read_text().split())
    assert not set(keys.PROPERTY_KEYS) - known
    assert not set(keys.PROPERTY_KEY_TEMPLATES) - set(templates.read_text().split())
    facts = {
        line.split("\t")[0]: line.split("\t")
        for line in (REFERENCE / "property-keys-2.9.tsv").read_text().splitlines()[1:]
        if line
    }
    for key, fact in keys.PROPERTY_KEYS.items():
        assert facts[key][1] == fact.value_type, key
        assert facts[key][-1] == fact.scope, key


# --- credentials file ---------------------------------------------------------------------------


def test_site_properties_hold_the_root_keys_escaped() -> None:
    text = av.site_properties("LTAI5tKEY", "se\\cret")
    assert f"{keys.root_mount_option(keys.OSS_ACCESS_KEY_ID)}=LTAI5tKEY" in text
    assert f"{keys.root_mount_option(keys.OSS_ACCESS_KEY_SECRET)}=se\\\\cret" in text


# --- Job manifests ------------------------------------------------------------------------------


def mount_manifest() -> dict[str, Any]:
    return av.mount_job_manifest(
        alluxio_version="2.9.5",
        namespace="alluxio",
        java_opts=av.master_java_opts("alluxio-master-0.alluxio.svc"),
        mounts=[
            av.NestedMount(
                name="coco",
                alluxio_path="/coco",
                ufs_uri="oss://acme-prod-coco/",
                endpoint="oss-cn-beijing-internal.aliyuncs.com",
                read_only=True,
            )
        ],
        credentials_secret_name=av.CREDENTIALS_SECRET_NAME,
        tolerations=TOLERATIONS,
    )


def warmup_manifest() -> dict[str, Any]:
    return av.warmup_job_manifest(
        alluxio_version="2.9.5",
        namespace="alluxio",
        java_opts=av.master_java_opts("alluxio-master-0.alluxio.svc"),
        paths=["/", "/coco"],
        tolerations=TOLERATIONS,
    )


@pytest.mark.parametrize("build", [mount_manifest, warmup_manifest])
def test_job_manifests_are_strictly_valid(build: Any) -> None:
    manifest = build()
    kubernetes_validate.validate(manifest, K8S_VERSION, strict=True)
    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert_guaranteed(container["resources"], "1", "1Gi")
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["image"] == "alluxio/alluxio:2.9.5"


def test_mount_job_takes_credentials_from_the_secret() -> None:
    container = mount_manifest()["spec"]["template"]["spec"]["containers"][0]
    from_secret = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "valueFrom" in e}
    assert from_secret["OSS_ACCESS_KEY_ID_0"] == {"name": av.CREDENTIALS_SECRET_NAME, "key": "coco-access-key-id"}
    assert from_secret["OSS_ACCESS_KEY_SECRET_0"]["key"] == "coco-access-key-secret"
    script = container["command"][-1]
    assert "mount_dataset /coco" in script and "--readonly" in script


def test_warmup_loads_each_dataset() -> None:
    script = warmup_manifest()["spec"]["template"]["spec"]["containers"][0]["command"][-1]
    assert "alluxio fs distributedLoad /\n" in script and "alluxio fs distributedLoad /coco" in script
    with pytest.raises(ValueError):
        av.warmup_job_manifest(alluxio_version="2.9.5", namespace="a", java_opts="", paths=[], tolerations=[])


def test_paths_and_hostnames() -> None:
    assert av.alluxio_path(0, "imagenet") == "/"
    assert av.alluxio_path(1, "coco") == "/coco"
    assert av.master_hostname("alluxio", "ml") == "alluxio-master-0.ml.svc"
