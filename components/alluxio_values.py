"""Helm values for the official Alluxio chart 0.6.53 and the manifests of the cache's Jobs.

Pure functions: plain settings-derived inputs in, dicts out. Values that only exist at deploy time
(node selector, tolerations, the cache host path, bucket URIs) are passed through untouched as
opaque leaves, so the components can hand in Pulumi Outputs while every tuned value stays a plain,
known value that the policy pack can read even in a preview.

Where each value lands is what chart 0.6.53 reads (its values.yaml and templates):
- ``properties`` become ``-D`` flags in ``ALLUXIO_JAVA_OPTS`` (every process of the release);
  ``<component>.properties`` and ``<component>.jvmOptions`` (a list, appended after them) become
  that component's ``ALLUXIO_<COMPONENT>_JAVA_OPTS``. All of it lands in a ConfigMap, so nothing
  secret ever goes there.
- ``tieredstore.levels[]`` becomes the worker's tier flags and, with ``type: hostPath``, a hostPath
  volume mounted at the same ``path``; with ``shortCircuit.policy: local`` the FUSE DaemonSet mounts
  the very same volumes, which is what makes a short-circuit read a plain file read (row 10).
- ``fuse.mountOptions`` is one comma-separated string passed as ``--fuse-opts``; ``fuse.env`` is a
  map; ``fuse.mountPoint``/``fuse.alluxioPath`` are the mount's two arguments. The chart mounts the
  mount point's parent directory from the host (bidirectional propagation), so it must not be ``/``.
  Its ConfigMap still renders ``-Dalluxio.fuse.mount.point`` from the pre-0.6.42 name
  ``fuse.mountPath`` (absent from values.yaml), so that key carries the same mount point.
- With ``master.count`` 1 the chart prepends ``-Dalluxio.master.hostname=<fullname>-master-0`` to
  ``ALLUXIO_JAVA_OPTS``; a release without a master sets the count to 0 and names the master itself.
- Each ``ALLUXIO_*_JAVA_OPTS`` is one space-separated line that the image's entrypoint writes into
  ``alluxio-env.sh`` inside double quotes: a value with whitespace, ``"``, ``$``, a backquote or a
  backslash would be split or evaluated by the shell, so such values are refused.
- ``secrets.master`` mounts a Secret at ``/secrets/<folder>/`` in the master and job master.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from typing_extensions import TypedDict

from ack_alluxio_training import alluxio_metrics, conventions, tuning, versions
from ack_alluxio_training import alluxio_property_keys as keys
from ack_alluxio_training.alluxio_args import ContainerResources as ContainerResources
from ack_alluxio_training.alluxio_args import DatasetProfile
from ack_alluxio_training.durations import duration_seconds
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.settings import (
    AlluxioClientSettings,
    CacheSettings,
    DatasetSettings,
    PlatformSettings,
    Resources,
)

#: Release names, also the charts' ``fullnameOverride``. The chart defaults that to ``alluxio``, so
#: the FUSE release needs its own or both would render ``alluxio-config`` and clash.
CACHE_RELEASE_NAME: Final = "alluxio"
FUSE_RELEASE_NAME: Final = "alluxio-fuse"
#: The chart runs master and worker as this uid/gid (its ``user``/``group``/``fsGroup``); the tier
#: host path must be writable by it.
ALLUXIO_UID: Final = versions.ALLUXIO_IMAGE_UID
#: Secret holding the OSS credentials, and the folder the chart mounts it at (``/secrets/<folder>``).
CREDENTIALS_SECRET_NAME: Final = "alluxio-ufs-credentials"
CREDENTIALS_FOLDER: Final = "alluxio-ufs"
SITE_PROPERTIES_FILE: Final = "alluxio-site.properties"
#: Alluxio path and mount arguments of the FUSE mount: the whole namespace, every dataset under it.
FUSE_ALLUXIO_PATH: Final = "/"
#: The warm-up reads the whole data set from OSS; past this the Job fails instead of hanging.
WARMUP_DEADLINE_SECONDS: Final = 4 * 3600
#: Characters a value in the chart's one-line java opts cannot carry (besides whitespace): the image's
#: entrypoint writes each ``ALLUXIO_*_JAVA_OPTS`` into ``alluxio-env.sh`` as ``export KEY="<line>"``.
JAVA_OPTS_UNSAFE_CHARACTERS: Final = frozenset('"$`\\')


class CacheResources(TypedDict):
    """Resources of the four containers of the master/worker release."""

    master: ContainerResources
    job_master: ContainerResources
    worker: ContainerResources
    job_worker: ContainerResources


class CacheTier(TypedDict):
    """The one cache tier (rows 10, 13); its host path comes from the node pool."""

    medium: str
    """MEM or SSD; a MEM tier is charged to the worker container's memory."""
    quota: str
    """Tier size on each cache node, a Kubernetes quantity."""
    high_watermark: float
    """Usage ratio at which the worker starts evicting."""
    low_watermark: float
    """Usage ratio eviction stops at."""


class Journal(TypedDict):
    """The master's journal volume."""

    storage_class: str
    """StorageClass of the journal PVC (ACK has no 'standard')."""
    size: str
    """Size of the journal PVC."""


#: Resources of the one-shot Jobs (mount, warm-up): an Alluxio CLI JVM and nothing else (row 12).
CLI_JOB_RESOURCES: Final = ContainerResources(cpu="1", memory="1Gi")  # whole cores (row 12)


# ---------------------------------------------------------------------------------------------
# Small derivations
# ---------------------------------------------------------------------------------------------


def alluxio_path(index: int, dataset_name: str) -> str:
    """Where a dataset appears in Alluxio: the first is the root mount, others ``/<name>``."""
    return "/" if index == 0 else f"/{dataset_name}"


def master_hostname(fullname: str, namespace: str) -> str:
    """DNS name of the single master: the chart's headless Service ``<fullname>-master-0``.

    Qualified with the namespace so it resolves from any pod; the cluster domain comes from the
    resolver's search path.
    """
    return f"{fullname}-master-0.{namespace}.svc"


def check_java_opts_value(value: object, what: str) -> None:
    """Refuse a plain value that cannot travel as one word of the chart's ``-D`` lines.

    Deploy-time values (Pulumi Outputs) pass through unchecked; the settings they come from are
    checked where the components map settings onto args.
    """
    if not isinstance(value, str):
        return
    bad = sorted({c for c in value if c.isspace() or c in JAVA_OPTS_UNSAFE_CHARACTERS})
    if bad:
        raise ValueError(
            f"{what} {value!r} contains {bad}: the chart renders it into a one-line, double-quoted "
            "ALLUXIO_*_JAVA_OPTS, where it would be split or evaluated by the shell"
        )


def check_java_opts_values(values: Iterable[object], what: str) -> None:
    """:func:`check_java_opts_value` for each value."""
    for value in values:
        check_java_opts_value(value, what)


#: Host directories shared with the system or other software: as the FUSE mount's parent they would
#: be bind-mounted, bidirectionally, into the privileged FUSE pod (and every mount under them with it).
SHARED_HOST_DIRECTORIES: Final = frozenset({
    "/", "/mnt", "/media", "/opt", "/srv", "/tmp", "/var", "/var/lib", "/var/run", "/var/lib/kubelet", "/run",
    "/home", "/root", "/usr", "/etc", "/dev", "/dev/shm", "/proc", "/sys", "/boot", "/lib", "/lib64", "/bin", "/sbin",
})


def fuse_mount_parent(mount_point: str) -> str:
    """The host directory chart 0.6.53 mounts into the FUSE pod (bidirectionally) for the mount.

    The chart mounts ``dir(fuse.mountPoint)`` from the host into the privileged FUSE pod with
    bidirectional propagation, so that parent must be a directory of its own: a shared one (``/``,
    ``/mnt``, ``/var``, ...) would hand the pod every other mount below it.
    """
    if not mount_point.startswith("/"):
        raise ValueError(f"FUSE mount point {mount_point!r} is not an absolute path")
    check_java_opts_value(mount_point, "FUSE mount point")
    parent = posixpath.dirname(posixpath.normpath(mount_point))
    if parent in SHARED_HOST_DIRECTORIES:
        raise ValueError(
            f"FUSE mount point {mount_point!r} sits directly below the shared host directory {parent}: the chart "
            "bind-mounts the mount point's parent into the privileged FUSE pod with bidirectional propagation; "
            f"put it below a directory of its own (e.g. {conventions.DEFAULT_FUSE_MOUNT_POINT})"
        )
    return parent


def check_fuse_mount_options(options: Iterable[str]) -> None:
    """FUSE ``-o`` options as the chart joins them: one option per item, each one shell word."""
    for option in options:
        if not option or "," in option:
            raise ValueError(f"FUSE mount option {option!r}: give exactly one option per item")
        check_java_opts_value(option, "FUSE mount option")


def container_resources(resources: ContainerResources) -> dict[str, dict[str, str]]:
    """Rows 11-12: requests equal to limits, so the container gets real CPUs, never cpu_shares=2."""
    both = {"cpu": resources["cpu"], "memory": resources["memory"]}
    return {"requests": dict(both), "limits": dict(both)}


def tier_reserved_bytes(tier: CacheTier) -> int:
    """Row 13: memory the worker container is charged for its tier (a MEM tier lives in its cgroup)."""
    return memory_bytes(tier["quota"]) if tier["medium"] == "MEM" else 0


def tier_levels(tier: CacheTier, host_path: object) -> list[dict[str, Any]]:
    """Rows 10 and 13: the chart's ``tieredstore.levels``: one ``hostPath`` tier, never ``emptyDir``.

    An ``emptyDir`` tier would give the FUSE pod an empty directory of its own, and every
    short-circuit read would silently fall back to gRPC. The quota is written in bytes: a Kubernetes
    quantity and an Alluxio size read a bare byte count the same way.
    """
    check_java_opts_value(host_path, "cache host path")
    return [
        {
            "level": 0,
            "alias": tier["medium"],
            "mediumtype": tier["medium"],
            "path": host_path,
            "type": "hostPath",
            "quota": str(memory_bytes(tier["quota"])),
            "high": tier["high_watermark"],
            "low": tier["low_watermark"],
        }
    ]


def short_circuit() -> dict[str, Any]:
    """Row 10: short-circuit through the shared tier directory (policy ``local``, no domain socket).

    ``volumeType: hostPath`` keeps the chart from creating the domain-socket PVC (storage class
    ``standard``, which ACK lacks); with policy ``local`` that volume is not used at all.
    """
    return {"enabled": True, "policy": "local", "volumeType": "hostPath"}


def jvm_options(resources: ContainerResources, reserved_bytes: int = 0) -> list[str]:
    """Row 11: processor count and GC threads from the cpu limit, heap and direct memory from memory."""
    return tuning.jvm_cpu_options(resources["cpu"]) + tuning.jvm_memory_options(resources["memory"], reserved_bytes)


def dataset_metadata(datasets: Sequence[DatasetProfile]) -> list[tuning.DatasetMetadata]:
    """Row 7's view of the datasets behind one mount (they share one client metadata cache)."""
    default_interval = DatasetSettings.model_fields["change_interval"].default
    return [
        tuning.DatasetMetadata(
            str(d["name"]), int(d["file_count"]),
            float(duration_seconds(d.get("change_interval", default_interval))),
        )
        for d in datasets
    ]


def client_properties_for(
    datasets: Sequence[DatasetProfile], client: AlluxioClientSettings, overrides: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Rows 4-9 for the datasets behind one mount: they share one client cache.

    ``overrides`` are set after the derived properties (a consumer's escape hatch; the policy pack
    still checks the result).
    """
    properties = tuning.tuned_client_properties(
        datasets=dataset_metadata(datasets),
        worker_list_refresh_seconds=float(duration_seconds(client.worker_list_refresh_interval)),
        avoid_eviction_reserved=client.avoid_eviction_reserved,
        metadata_cache_headroom=client.metadata_cache_headroom,
    )
    return {**properties, **dict(overrides or {})}


def dataset_profiles(settings: PlatformSettings) -> list[DatasetProfile]:
    """The stack's datasets as the profiles the Alluxio components take."""
    return [
        DatasetProfile(
            name=d.name,
            size_gib=d.size_gib,
            file_count=d.file_count,
            read_only=d.read_only,
            change_interval=d.change_interval,
        )
        for d in settings.datasets
    ]


def client_properties(settings: PlatformSettings) -> dict[str, str]:
    """Rows 4-9 for this stack: every dataset behind the mount shares one client cache."""
    return client_properties_for(dataset_profiles(settings), settings.alluxio.client)


def fuse_max_idle_threads_for(settings: PlatformSettings) -> int:
    """Row 3 for this stack: ``fuse.maxIdleThreads`` if set, else derived from the training jobs."""
    if settings.fuse.max_idle_threads is not None:
        return settings.fuse.max_idle_threads
    jobs = [tuning.JobReaders(j.reader_threads, j.workers, j.gpus_per_worker) for j in settings.jobs]
    return tuning.fuse_threads_for_jobs(jobs, settings.node_pool.gpus_per_node)


def tier_of(cache: CacheSettings) -> CacheTier:
    """Validated tier settings (``cache.*``, or a component's ``tier`` arg) in the values functions' shape."""
    return CacheTier(
        medium=cache.medium,
        quota=cache.quota_per_node,
        high_watermark=cache.high_watermark,
        low_watermark=cache.low_watermark,
    )


def cache_tier(settings: PlatformSettings) -> CacheTier:
    """The stack's tier settings in the shape the values functions take."""
    return tier_of(settings.cache)


def _resources(resources: Resources) -> ContainerResources:
    return ContainerResources(cpu=resources.cpu, memory=resources.memory)


def cache_resources(settings: PlatformSettings) -> CacheResources:
    """The stack's resources of master, job master, worker and job worker."""
    alluxio = settings.alluxio
    return CacheResources(
        master=_resources(alluxio.master),
        job_master=_resources(alluxio.job_master),
        worker=_resources(alluxio.worker),
        job_worker=_resources(alluxio.job_worker),
    )


def fuse_resources(settings: PlatformSettings) -> ContainerResources:
    """The stack's FUSE container resources."""
    return _resources(settings.fuse.resources)


def escape_property_value(value: str | None) -> str:
    """A value safe in a Java properties file (backslashes and line breaks would change it).

    A missing value (an engine or a test mock that returns no ``secret`` for an access key) is
    written empty instead of crashing the program: the key then fails at mount time, visibly.
    """
    if value is None:
        return ""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


def site_properties(access_key_id: str | None, access_key_secret: str | None) -> str:
    """The ``alluxio-site.properties`` of the credentials Secret: the root mount's OSS keys only.

    The master reads it from the folder named by ``alluxio.site.conf.dir``; -D flags (the chart's
    ConfigMap) still win over it, so only keys that are nowhere else belong here.
    """
    lines = [
        "# Written by ack-alluxio-training: OSS credentials of the root mount (master only).",
        f"{keys.root_mount_option(keys.OSS_ACCESS_KEY_ID)}={escape_property_value(access_key_id)}",
        f"{keys.root_mount_option(keys.OSS_ACCESS_KEY_SECRET)}={escape_property_value(access_key_secret)}",
    ]
    return "\n".join(lines) + "\n"


def secret_key_names(dataset_name: str) -> tuple[str, str]:
    """Keys of one dataset's access key id and secret in the credentials Secret (nested mounts)."""
    return f"{dataset_name}-access-key-id", f"{dataset_name}-access-key-secret"


# ---------------------------------------------------------------------------------------------
# Helm values
# ---------------------------------------------------------------------------------------------


def _common(fullname: str, alluxio_version: str) -> dict[str, Any]:
    return {
        "fullnameOverride": fullname,
        "image": versions.ALLUXIO_IMAGE,
        "imageTag": alluxio_version,
        # A tag can be moved by its owner: the kubelet re-checks it on every pod start (layers it
        # already holds are not downloaded again), so a node never runs a stale copy of the tag.
        "imagePullPolicy": "Always",
    }


def cache_release_values(
    *,
    alluxio_version: str,
    resources: CacheResources,
    tier: CacheTier,
    cache_host_path: object,
    node_selector: object,
    tolerations: object,
    client_properties: Mapping[str, str],
    root_ufs_uri: object,
    root_endpoint: object,
    root_read_only: bool,
    journal: Journal,
    credentials_secret_name: str = CREDENTIALS_SECRET_NAME,
    fullname: str = CACHE_RELEASE_NAME,
) -> dict[str, Any]:
    """Values of the master/worker release: rows 4-13 except FUSE's own (FUSE is off here).

    ``root_read_only`` marks the root mount read-only; pass it only when nothing is mounted below
    the root (nested mounts create their mount-point directories in it).
    """
    reserved = tier_reserved_bytes(tier)
    if memory_bytes(resources["worker"]["memory"]) < reserved:
        raise ValueError(
            f"worker memory {resources['worker']['memory']} is below the {tier['medium']} tier quota "
            f"{tier['quota']}; the tier is charged to the worker (row 13)"
        )
    master_properties: dict[str, Any] = {
        keys.KEY_ROOT_UFS: root_ufs_uri,
        keys.root_mount_option(keys.OSS_ENDPOINT): root_endpoint,
        # The credentials of the root mount come from the Secret's alluxio-site.properties.
        keys.KEY_SITE_CONF_DIR: f"/secrets/{CREDENTIALS_FOLDER}/",
    }
    if root_read_only:
        master_properties[keys.KEY_ROOT_READONLY] = "true"
    check_java_opts_values(client_properties.values(), "client property value")
    check_java_opts_values(master_properties.values(), "master property value")
    return {
        **_common(fullname, alluxio_version),
        "user": ALLUXIO_UID,
        "group": ALLUXIO_UID,
        "fsGroup": ALLUXIO_UID,
        # Rows 4-9 for the job workers and loaders of this release; row 10 on explicitly.
        "properties": {**client_properties, tuning.KEY_SHORT_CIRCUIT_ENABLED: "true"},
        "master": {
            "enabled": True,
            "properties": master_properties,
            "resources": container_resources(resources["master"]),
            "jvmOptions": jvm_options(resources["master"]),
            # Allowed on the GPU nodes (clusters whose only pool is the GPU pool) but not pinned there.
            "tolerations": tolerations,
        },
        "jobMaster": {
            "resources": container_resources(resources["job_master"]),
            "jvmOptions": jvm_options(resources["job_master"]),
        },
        "worker": {
            "enabled": True,
            "resources": container_resources(resources["worker"]),
            "jvmOptions": jvm_options(resources["worker"], reserved),
            # Row 10: the worker's hostname is the node's, as the FUSE client's is.
            "hostNetwork": True,
            "nodeSelector": node_selector,
            "tolerations": tolerations,
        },
        "jobWorker": {
            "resources": container_resources(resources["job_worker"]),
            "jvmOptions": jvm_options(resources["job_worker"]),
        },
        "tieredstore": {"levels": tier_levels(tier, cache_host_path)},
        "shortCircuit": short_circuit(),
        "journal": {"storageClass": journal["storage_class"], "size": journal["size"]},
        "fuse": {"enabled": False},
        # /metrics/prometheus/ on every web port, scraped by the PodMonitors (docs/observability.md).
        "metrics": alluxio_metrics.chart_metrics_values(),
        "secrets": {"master": {credentials_secret_name: CREDENTIALS_FOLDER}},
    }


def fuse_properties(client_properties: Mapping[str, str], master_host: object, libfuse_version: int) -> dict[str, Any]:
    """Properties of the FUSE process: rows 4-9, the cache's master, the libfuse version (row 3).

    Also its web server, the only place a standalone FUSE process serves its metrics; the chart's
    ``metrics`` values are not used for FUSE: its DaemonSet does not mount the metrics ConfigMap
    that ``metrics.enabled`` points every process of the release at.
    """
    tuning.check_libfuse_version(libfuse_version)
    check_java_opts_values(client_properties.values(), "client property value")
    check_java_opts_value(master_host, "master hostname")
    return {
        **client_properties,
        tuning.KEY_SHORT_CIRCUIT_ENABLED: "true",
        tuning.KEY_LIBFUSE_VERSION: str(libfuse_version),
        keys.KEY_MASTER_HOSTNAME: master_host,
        keys.KEY_FUSE_WEB_ENABLED: "true",
        keys.KEY_FUSE_WEB_PORT: str(alluxio_metrics.FUSE_WEB_PORT),
    }


def fuse_release_values(
    *,
    alluxio_version: str,
    master_host: object,
    resources: ContainerResources,
    tier: CacheTier,
    cache_host_path: object,
    node_selector: object,
    tolerations: object,
    client_properties: Mapping[str, str],
    mount_point: str,
    mount_options: Sequence[str],
    libfuse_version: int,
    max_idle_threads: int,
    fullname: str = FUSE_RELEASE_NAME,
) -> dict[str, Any]:
    """Values of the FUSE release: only the FUSE DaemonSet, pointed at the cache's master.

    With one master the chart would derive ``alluxio.master.hostname`` from this release's own full
    name (``alluxio-fuse-master-0``, which does not exist); ``master.count: 0`` keeps that flag out of
    the ConfigMap. The cache's master and rows 4-9 go into both ``properties``
    (``ALLUXIO_JAVA_OPTS``) and ``fuse.properties`` (``ALLUXIO_FUSE_JAVA_OPTS``), so they reach the
    FUSE process whichever of the two the launcher reads.
    """
    fuse_mount_parent(mount_point)
    check_fuse_mount_options(mount_options)
    properties = fuse_properties(client_properties, master_host, libfuse_version)
    cache_entries = int(client_properties[tuning.KEY_METADATA_CACHE_MAX_SIZE])
    return {
        **_common(fullname, alluxio_version),
        "properties": properties,
        # No master here: count 0 drops the chart's own -Dalluxio.master.hostname=<fullname>-master-0.
        "master": {"enabled": False, "count": 0},
        "worker": {"enabled": False},
        # Same tier and short-circuit values as the cache release: the chart mounts these hostPath
        # volumes into the FUSE pod, so the worker's block files are readable at the same path.
        "tieredstore": {"levels": tier_levels(tier, cache_host_path)},
        "shortCircuit": short_circuit(),
        "fuse": {
            "enabled": True,
            "properties": properties,
            "jvmOptions": tuning.jvm_cpu_options(resources["cpu"])
            + tuning.fuse_jvm_memory_options(resources["memory"], cache_entries),
            "env": tuning.fuse_idle_threads_env(libfuse_version, max_idle_threads),
            # Row 10: same hostname as the local worker, so reads are local and short-circuited.
            "hostNetwork": True,
            "dnsPolicy": "ClusterFirstWithHostNet",
            # Not needed to mount or serve; the chart's default only helps attaching profilers.
            "hostPID": False,
            "mountOptions": ",".join(mount_options),
            "mountPoint": mount_point,
            # The chart's ConfigMap renders -Dalluxio.fuse.mount.point from this older key ("<nil>" without it).
            "mountPath": mount_point,
            "alluxioPath": FUSE_ALLUXIO_PATH,
            "resources": container_resources(resources),
            "nodeSelector": node_selector,
            "tolerations": tolerations,
        },
    }


# ---------------------------------------------------------------------------------------------
# One-shot Jobs of the cache: mount the other datasets, warm the cache
# ---------------------------------------------------------------------------------------------

_MOUNT_SCRIPT_HEAD: Final = """set -eu
# Idempotent: a path that is already a mount point is left alone (the master's journal keeps mounts).
mount_dataset() {
  path="$1"; uri="$2"; endpoint="$3"; key_id="$4"; key_secret="$5"; read_only="$6"
  if alluxio fs stat "$path" 2>/dev/null | grep -q 'mountPoint=true'; then
    echo "$path is already mounted"
    return 0
  fi
  flags=""
  if [ "$read_only" = "true" ]; then flags="--readonly"; fi
  alluxio fs mount $flags \\
    --option fs.oss.endpoint="$endpoint" \\
    --option fs.oss.accessKeyId="$key_id" \\
    --option fs.oss.accessKeySecret="$key_secret" \\
    "$path" "$uri"
}
"""


class NestedMount(TypedDict):
    """A dataset mounted below the root: its Alluxio path, UFS URI and endpoint (deploy-time leaves)."""

    name: str
    alluxio_path: str
    ufs_uri: object
    endpoint: object
    read_only: bool


def _cli_pod_spec(
    *, image: str, java_opts: object, script: str, env: list[dict[str, Any]], tolerations: object
) -> dict[str, Any]:
    """A locked-down pod that runs one Alluxio CLI script against the cache's master."""
    return {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": ALLUXIO_UID,
            "runAsGroup": ALLUXIO_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "tolerations": tolerations,
        "containers": [
            {
                "name": "alluxio-cli",
                "image": image,
                "imagePullPolicy": "Always",
                "command": ["/bin/bash", "-c", script],
                "env": [{"name": "ALLUXIO_JAVA_OPTS", "value": java_opts}, *env],
                "resources": container_resources(CLI_JOB_RESOURCES),
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                # The CLI writes its user log; nothing else needs a writable filesystem.
                "volumeMounts": [
                    {"name": "logs", "mountPath": "/opt/alluxio/logs"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
            }
        ],
        "volumes": [{"name": "logs", "emptyDir": {}}, {"name": "tmp", "emptyDir": {}}],
    }


def master_java_opts(master_host: str) -> str:
    """``ALLUXIO_JAVA_OPTS`` of a CLI pod: where the cache's master is (the CLI reads this variable)."""
    return f"-D{keys.KEY_MASTER_HOSTNAME}={master_host}"


def mount_job_manifest(
    *,
    alluxio_version: str,
    namespace: object,
    java_opts: object,
    mounts: Sequence[NestedMount],
    credentials_secret_name: object,
    tolerations: object,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A batch/v1 Job that mounts every dataset but the first at ``/<name>`` (once, idempotently).

    Alluxio 2.9 configures only the root mount through properties, so nested mounts are made with
    ``alluxio fs mount``; the master's journal keeps them across restarts. Credentials reach the
    script as environment variables from the Secret, never as literal values in the manifest.
    """
    env: list[dict[str, Any]] = []
    calls = []
    for i, mount in enumerate(mounts):
        id_key, secret_key = secret_key_names(mount["name"])
        env += [
            {"name": f"UFS_URI_{i}", "value": mount["ufs_uri"]},
            {"name": f"OSS_ENDPOINT_{i}", "value": mount["endpoint"]},
            _secret_env(f"OSS_ACCESS_KEY_ID_{i}", credentials_secret_name, id_key),
            _secret_env(f"OSS_ACCESS_KEY_SECRET_{i}", credentials_secret_name, secret_key),
        ]
        read_only = "true" if mount["read_only"] else "false"
        calls.append(
            f'mount_dataset {mount["alluxio_path"]} "$UFS_URI_{i}" "$OSS_ENDPOINT_{i}" '
            f'"$OSS_ACCESS_KEY_ID_{i}" "$OSS_ACCESS_KEY_SECRET_{i}" {read_only}'
        )
    script = _MOUNT_SCRIPT_HEAD + "\n".join(calls) + "\n"
    return _job(
        namespace=namespace,
        labels={**(labels or {}), "app.kubernetes.io/component": "alluxio-mount"},
        backoff_limit=3,
        deadline_seconds=1800,
        pod_spec=_cli_pod_spec(
            image=f"{versions.ALLUXIO_IMAGE}:{alluxio_version}",
            java_opts=java_opts,
            script=script,
            env=env,
            tolerations=tolerations,
        ),
    )


def warmup_job_manifest(
    *,
    alluxio_version: str,
    namespace: object,
    java_opts: object,
    paths: Sequence[str],
    tolerations: object,
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A batch/v1 Job that loads each dataset into the cache before training (``distributedLoad``).

    The job workers on the cache nodes do the reading; this pod only submits and waits. Files
    already fully cached are skipped, so a path below an already loaded one costs only a listing.
    """
    if not paths:
        raise ValueError("a warm-up needs at least one Alluxio path")
    loads = "\n".join(f"alluxio fs distributedLoad {path}" for path in paths)
    return _job(
        namespace=namespace,
        labels={**(labels or {}), "app.kubernetes.io/component": "alluxio-warmup"},
        backoff_limit=2,
        deadline_seconds=WARMUP_DEADLINE_SECONDS,
        pod_spec=_cli_pod_spec(
            image=f"{versions.ALLUXIO_IMAGE}:{alluxio_version}",
            java_opts=java_opts,
            script="set -eu\n" + loads + "\n",
            env=[],
            tolerations=tolerations,
        ),
    )


def _secret_env(name: str, secret_name: object, key: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": key}}}


def _job(
    *, namespace: object, labels: Mapping[str, str], backoff_limit: int, deadline_seconds: int, pod_spec: dict[str, Any]
) -> dict[str, Any]:
    all_labels = {"app.kubernetes.io/part-of": "ack-alluxio-training", **labels}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"namespace": namespace, "labels": all_labels},
        "spec": {
            "backoffLimit": backoff_limit,
            "activeDeadlineSeconds": deadline_seconds,
            "template": {"metadata": {"labels": all_labels}, "spec": pod_spec},
        },
    }
