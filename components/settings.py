"""Validated stack settings: the one place that reads and checks ``ack-alluxio-training:*`` config.

Stack YAML -> these pydantic models -> pure tuning functions -> components. Defaults are the tuned
values of the study (the tuning table in docs/tuning.md), so an empty section means "as the study did it".
Invalid config raises :class:`SettingsError` before any resource is registered; its message names
the config key path, the bad value (never a secret's) and what is allowed. Every number is bounded
to what the cloud accepts, every pattern is ASCII and matched whole (``fullmatch``: ``$`` would
accept a trailing newline), host paths are normalised and kept out of system directories, and an
unknown key is answered with the keys allowed at that level and the closest one.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from ack_alluxio_training import conventions, image_references, instance_types, node_images, tuning, versions
from ack_alluxio_training.durations import DurationError, duration_seconds
from ack_alluxio_training.host_paths import host_path_problem
from ack_alluxio_training.image_references import image_reference_problem
from ack_alluxio_training.policy_config import (
    PolicyConfigFileError,
    loosened_below,
    production_floor,
    read_policy_config,
    stack_policy_config_path,
)
from ack_alluxio_training.quantities import QuantityError, cpu_cores, memory_bytes

PROJECT: Final = "ack-alluxio-training"

#: Config keys that hold credentials. They are read as Pulumi secrets by the components and never
#: enter these models, so a settings object can be printed or logged safely.
SECRET_CONFIG_KEYS: Final = frozenset({"ossAccessKeyId", "ossAccessKeySecret", "kubeconfig"})

_GPU_INSTANCE_TYPE: Final = node_images.GPU_INSTANCE_TYPE
# Every pattern is ASCII-only and used with fullmatch.
_DNS_LABEL: Final = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?", re.ASCII)
# OSS: 3-63 lowercase letters, digits and hyphens, starting and ending with a letter or digit.
_BUCKET_NAME: Final = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", re.ASCII)
_REGION: Final = re.compile(r"[a-z]{2}(?:-[a-z0-9]{1,20}){1,4}", re.ASCII)
# ACK cluster names: 1-63 letters, digits and hyphens, not starting with a hyphen.
_CLUSTER_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,62}", re.ASCII)
_CLUSTER_ID: Final = re.compile(r"c[a-z0-9]{1,63}", re.ASCII)
_VSWITCH_ID: Final = re.compile(r"vsw-[a-z0-9]{6,40}", re.ASCII)
_SECURITY_GROUP_ID: Final = re.compile(r"sg-[a-z0-9]{6,40}", re.ASCII)
_IMAGE_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}", re.ASCII)
_KMS_KEY_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,127}", re.ASCII)
# ECS key pairs: 2-128 characters starting with a letter; letters, digits, '.', '_', '-', ':'.
_KEY_PAIR_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9._:-]{1,127}", re.ASCII)
_DRIVER_VERSION: Final = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,4}){1,2}", re.ASCII)
_KUBERNETES_VERSION: Final = re.compile(r"1\.[0-9]{1,3}\.[0-9]{1,3}-aliyun\.[0-9]{1,3}", re.ASCII)
_KERNEL_VERSION: Final = re.compile(r"[0-9]{1,4}(?:\.[0-9]{1,6}){1,3}(?:-[A-Za-z0-9._]{1,64})?", re.ASCII)
# Alluxio 2.9.x (the release this package tunes) and a plain semantic chart version.
_ALLUXIO_VERSION: Final = re.compile(r"2\.9\.(?:0|[1-9][0-9]{0,2})", re.ASCII)
_CHART_VERSION: Final = re.compile(r"(?:0|[1-9][0-9]{0,3})\.(?:0|[1-9][0-9]{0,3})\.(?:0|[1-9][0-9]{0,3})", re.ASCII)
_DNS_SUBDOMAIN: Final = re.compile(r"[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?", re.ASCII)
_MOUNT_OPTION: Final = re.compile(r"[a-z][a-z0-9_]{0,63}(?:=[A-Za-z0-9_.:/-]{1,255})?", re.ASCII)
_OSS_PREFIX: Final = re.compile(r"[A-Za-z0-9!_.*'()/-]{0,1023}", re.ASCII)
_CONFIG_FILE: Final = re.compile(r"[A-Za-z0-9._/-]{1,1024}", re.ASCII)
_MODEL_NAME: Final = re.compile(r"[a-z0-9_]{1,64}", re.ASCII)

#: Bounds that keep numbers to what Kubernetes, ACK and Alluxio accept.
MAX_NODES: Final = 1000
MAX_JOBS: Final = 64
MAX_DATASETS: Final = 64
#: Alluxio keeps the metadata cache size in a Java int.
MAX_FILE_COUNT: Final = 2**31 - 1
#: OSS buckets have no size limit; ten pebibytes keeps arithmetic exact.
MAX_DATASET_GIB: Final = 10 * 2**20
TEN_YEARS_SECONDS: Final = 10 * 365 * 86400


class SettingsError(ValueError):
    """Invalid stack configuration; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


class _Model(BaseModel):
    """Shared model behaviour: camelCase keys in YAML, unknown keys refused, values frozen."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=True,
        allow_inf_nan=False,
        str_max_length=4096,
    )


def _full_match(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"not {what}")
    return value


def _matching(pattern: re.Pattern[str], what: str) -> Any:
    """A field check: the value (each item of a list; None passes) must match ``pattern`` whole."""

    def check(value: Any) -> Any:
        for item in value if isinstance(value, list) else [value]:
            if item is not None:
                _full_match(pattern, item, what)
        return value

    return check


def _check_host_path(value: str) -> str:
    problem = host_path_problem(value)
    if problem:
        raise ValueError(f"{value!r} {problem}")
    return value.rstrip("/")


def _check_cpu(value: str) -> str:
    try:
        cpu_cores(value)
    except QuantityError as exc:
        raise ValueError(str(exc)) from exc
    return value


def _check_memory(value: str) -> str:
    try:
        if memory_bytes(value) <= 0:
            raise ValueError(f"memory quantity {value!r} must be positive")
    except QuantityError as exc:
        raise ValueError(str(exc)) from exc
    return value


def _check_duration(value: str) -> str:
    try:
        if duration_seconds(value) <= 0:
            raise ValueError(f"duration {value!r} must be positive")
    except DurationError as exc:
        raise ValueError(str(exc)) from exc
    return value


class Environment(str, Enum):
    """Deployment environment; decides protection, versioning and policy enforcement."""

    DEV = "dev"
    STAGING = "staging"
    PROD = "prod"


class Resources(_Model):
    """cpu and memory for one container; requests equal limits (Guaranteed QoS, rows 11-12)."""

    cpu: str = Field(description="cpu request and limit, a Kubernetes quantity ('4', '3500m').")
    memory: str = Field(description="memory request and limit, a Kubernetes quantity ('16Gi').")

    _cpu = field_validator("cpu")(_check_cpu)
    _memory = field_validator("memory")(_check_memory)


class ClusterSettings(_Model):
    """The ACK cluster: adopt an existing one by id, or create a managed cluster."""

    mode: Literal["adopt", "create"] = Field(
        default="adopt", description="'adopt' an existing cluster by id, or 'create' a managed one."
    )
    cluster_id: str | None = Field(
        default=None,
        description="Existing ACK cluster id (mode 'adopt'); the kubeconfig comes from the secret key 'kubeconfig'.",
    )
    name: str = Field(
        default="alluxio-training",
        description="Name of a created cluster (1-63 letters, digits and hyphens, not starting with a hyphen).",
    )
    kubernetes_version: str = Field(
        default=versions.ACK_KUBERNETES_VERSION, description="Kubernetes version of a created cluster."
    )
    cluster_spec: Literal["ack.pro.small", "ack.standard"] = Field(
        default="ack.pro.small", description="ACK edition of a created cluster."
    )
    vswitch_ids: list[str] = Field(
        default_factory=list,
        max_length=10,
        description="vSwitches for a created cluster's control plane and the node pool.",
    )
    pod_cidr: str = Field(
        default="172.20.0.0/16", description="Pod CIDR of a created cluster (flannel), a private IPv4 network."
    )
    service_cidr: str = Field(
        default="172.21.0.0/20",
        description="Service CIDR of a created cluster, a private IPv4 network apart from the pod CIDR.",
    )
    deletion_protection: bool | None = Field(
        default=None, description="Deletion protection of a created cluster; default on, and required, in prod."
    )

    _cluster_name = field_validator("name")(
        _matching(_CLUSTER_NAME, "an ACK cluster name (1-63 letters, digits and hyphens, not starting with '-')")
    )

    _cluster_id = field_validator("cluster_id")(
        _matching(_CLUSTER_ID, "an ACK cluster id (c followed by lowercase letters and digits)")
    )

    _kubernetes_version = field_validator("kubernetes_version")(
        _matching(_KUBERNETES_VERSION, "an ACK Kubernetes version (e.g. 1.33.1-aliyun.1)")
    )

    _vswitches = field_validator("vswitch_ids")(_matching(_VSWITCH_ID, "a vSwitch id (vsw-...)"))

    @field_validator("pod_cidr", "service_cidr")
    @classmethod
    def _cidr(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9./]{9,18}", value, re.ASCII):
            raise ValueError(f"{value!r} is not an IPv4 CIDR (e.g. 172.20.0.0/16)")
        try:
            network = ipaddress.IPv4Network(value, strict=True)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an IPv4 CIDR ({exc})") from None
        if not network.is_private or not 8 <= network.prefixlen <= 28:
            raise ValueError(f"{value!r} must be a private network (10/8, 172.16/12, 192.168/16) with a /8-/28 prefix")
        return value

    @model_validator(mode="after")
    def _mode_needs(self) -> ClusterSettings:
        if self.mode == "adopt" and not self.cluster_id:
            raise ValueError("clusterId is required when mode is 'adopt' (or set mode: create)")
        if self.mode == "create" and not self.vswitch_ids:
            raise ValueError("vswitchIds must list at least one vSwitch when mode is 'create'")
        if ipaddress.IPv4Network(self.pod_cidr).overlaps(ipaddress.IPv4Network(self.service_cidr)):
            raise ValueError(f"serviceCidr: {self.service_cidr} overlaps podCidr {self.pod_cidr}")
        return self


class AutoscalingSettings(_Model):
    """GPU-aware node autoscaling (ACK ``scaling_config`` of type gpu)."""

    enabled: bool = Field(default=False, description="Turn on autoscaling of the GPU pool.")
    min_size: int = Field(default=0, ge=0, le=MAX_NODES, description="Fewest nodes when autoscaling.")
    max_size: int = Field(default=1, ge=1, le=MAX_NODES, description="Most nodes when autoscaling.")

    @model_validator(mode="after")
    def _bounds(self) -> AutoscalingSettings:
        if self.min_size >= self.max_size:
            raise ValueError(f"minSize ({self.min_size}) must be below maxSize ({self.max_size}), as ACK requires")
        return self


class DataDisk(_Model):
    """An extra data disk on each GPU node."""

    category: Literal["cloud_essd", "cloud_ssd", "cloud_efficiency", "cloud_auto"] = Field(
        default="cloud_essd", description="Disk category."
    )
    size_gib: int = Field(default=200, ge=20, le=32768, description="Disk size in GiB.")
    performance_level: Literal["PL0", "PL1", "PL2", "PL3"] | None = Field(
        default=None, description="ESSD performance level."
    )


class NodePoolSettings(_Model):
    """The GPU node pool that hosts the Alluxio workers, FUSE and the training pods."""

    name: str = Field(default="gpu-cache", description="Node pool name (also used in labels).")
    instance_types: list[str] = Field(
        default_factory=lambda: ["ecs.gn6v-c8g1.16xlarge"],
        min_length=1,
        max_length=10,
        description="GPU instance types in order of preference (ECS gn/ebmgn/sgn/vgn families).",
    )
    gpus_per_node: int = Field(
        default=8,
        ge=1,
        le=16,
        description="GPUs on each node; taken from the instance types (built-in table) when unset, checked when set.",
    )
    cpu_per_node: int = Field(
        default=64,
        ge=2,
        le=1024,
        description="vCPUs on each node (the least of the types); from the table when unset, checked when set.",
    )
    memory_gib_per_node: int = Field(
        default=256,
        ge=4,
        le=16384,
        description="Memory of each node in GiB (the least of the types); from the table when unset, checked when set.",
    )
    custom_instance_types: bool = Field(
        default=False,
        description=(
            "true for instance types the built-in table does not know: gpusPerNode, cpuPerNode and memoryGibPerNode "
            "must then be given (the deploy-time lookup still confirms them)."
        ),
    )
    confirm_instance_types: bool = Field(
        default=True,
        description=(
            "At deploy time, look the instance types up with alicloud.ecs.getInstanceTypes and fail when one is not "
            "offered or its GPUs, vCPUs or memory differ from these numbers."
        ),
    )
    desired_size: int = Field(default=4, ge=0, le=MAX_NODES, description="Nodes when autoscaling is off.")
    autoscaling: AutoscalingSettings = Field(default_factory=AutoscalingSettings)
    image_type: str = Field(
        default=node_images.DEFAULT_IMAGE_TYPE,
        description="ACK image type; must have a kernel >= kernelFloor (Alibaba Cloud Linux 3 or 4).",
    )
    image_id: str | None = Field(default=None, description="Image id when imageType is 'Custom'.")
    kernel_version: str | None = Field(
        default=None, description="Kernel of a Custom image, checked against kernelFloor."
    )
    kernel_floor: str = Field(default=tuning.DEFAULT_KERNEL_FLOOR, description="Lowest kernel FUSE may run on (row 1).")
    system_disk_category: Literal["cloud_essd", "cloud_ssd", "cloud_efficiency", "cloud_auto"] = Field(
        default="cloud_essd", description="System disk category."
    )
    system_disk_size_gib: int = Field(default=120, ge=40, le=2048, description="System disk size in GiB.")
    data_disks: list[DataDisk] = Field(default_factory=list, max_length=16, description="Extra data disks per node.")
    vswitch_ids: list[str] = Field(
        default_factory=list, max_length=10, description="vSwitches for the nodes; defaults to the cluster's."
    )
    security_group_ids: list[str] = Field(
        default_factory=list, max_length=5, description="Security groups for the nodes; defaults to the cluster's."
    )
    nvidia_driver_version: str | None = Field(
        default=None, description="Pins the NVIDIA driver with ACK's ack.aliyun.com/nvidia-driver-version label."
    )
    key_name: str | None = Field(default=None, description="ECS key pair for node login.")

    @model_validator(mode="before")
    @classmethod
    def _shape_from_table(cls, data: Any) -> Any:
        """Fill unset per-node numbers from the instance table (checked against it afterwards)."""
        if not isinstance(data, dict):
            return data
        types = data.get("instanceTypes", data.get("instance_types", cls.model_fields["instance_types"].get_default(
            call_default_factory=True
        )))
        custom = data.get("customInstanceTypes", data.get("custom_instance_types", False))
        if custom is True or not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            return data
        shape, _ = instance_types.pool_shape(types)
        if shape is None:
            return data
        filled = dict(data)
        for alias, name, value in (
            ("gpusPerNode", "gpus_per_node", shape.gpus),
            ("cpuPerNode", "cpu_per_node", shape.vcpus),
            ("memoryGibPerNode", "memory_gib_per_node", shape.memory_gib),
        ):
            if alias not in data and name not in data:
                filled[alias] = value
        return filled

    @model_validator(mode="after")
    def _shape_matches_the_instance_types(self) -> NodePoolSettings:
        problem = self._instance_shape_problem()
        if problem:
            raise ValueError(f"instanceTypes: {problem}")
        return self

    def _instance_shape_problem(self) -> str | None:
        declared = {"gpusPerNode": self.gpus_per_node, "cpuPerNode": self.cpu_per_node,
                    "memoryGibPerNode": self.memory_gib_per_node}
        if self.custom_instance_types:
            missing = [key for key, name in (("gpusPerNode", "gpus_per_node"), ("cpuPerNode", "cpu_per_node"),
                                             ("memoryGibPerNode", "memory_gib_per_node"))
                       if name not in self.model_fields_set]
            if missing:
                return f"customInstanceTypes is true, so give the nodes' shape: set {', '.join(missing)}"
            return None
        unknown = [t for t in self.instance_types if instance_types.shape_of(t) is None]
        if unknown:
            suggestions = [n for t in unknown for n in instance_types.types_of_family(instance_types.family_of(t))]
            hint = f"; known types of that family: {', '.join(suggestions)}" if suggestions else ""
            families = ", ".join(instance_types.known_families())
            return (
                f"{', '.join(unknown)} is not in the instance table (families {families}){hint}; for another type "
                "set customInstanceTypes: true with gpusPerNode, cpuPerNode and memoryGibPerNode"
            )
        shape, problem = instance_types.pool_shape(list(self.instance_types))
        if problem or shape is None:
            return problem
        actual = {"gpusPerNode": shape.gpus, "cpuPerNode": shape.vcpus, "memoryGibPerNode": shape.memory_gib}
        wrong = [f"{key} {value} (the type has {actual[key]})" for key, value in declared.items()
                 if value != actual[key]]
        if not wrong:
            return None
        types = "; ".join(f"{t} has {instance_types.INSTANCE_SHAPES[t].describe()}" for t in self.instance_types)
        return (
            f"{types}, but the stack declares {', '.join(wrong)}; remove those keys to take them from the instance "
            "type, or choose a type of the shape the jobs need"
        )

    @field_validator("instance_types")
    @classmethod
    def _gpu_families(cls, value: list[str]) -> list[str]:
        bad = [t for t in value if not _GPU_INSTANCE_TYPE.fullmatch(t)]
        if bad:
            raise ValueError(
                f"not GPU instance types: {bad}; use ECS GPU families such as ecs.gn6v-c8g1.16xlarge, "
                "ecs.gn7i-c32g1.8xlarge, ecs.ebmgn7.26xlarge"
            )
        return value

    @field_validator("name")
    @classmethod
    def _dns(cls, value: str) -> str:
        # A DNS label (it becomes a node label value) is also a valid ACK node pool name.
        if not _DNS_LABEL.fullmatch(value) or len(value) > 40:
            raise ValueError(f"{value!r} must be a DNS label of at most 40 characters")
        return value

    _vswitches = field_validator("vswitch_ids")(_matching(_VSWITCH_ID, "a vSwitch id (vsw-...)"))

    _security_groups = field_validator("security_group_ids")(
        _matching(_SECURITY_GROUP_ID, "a security group id (sg-...)")
    )

    _image_id = field_validator("image_id")(_matching(_IMAGE_ID, "an ECS image id (e.g. m-2ze1...)"))

    _kernel = field_validator("kernel_version", "kernel_floor")(
        _matching(_KERNEL_VERSION, "a kernel version (e.g. 5.10.134-16.al8)")
    )

    _driver = field_validator("nvidia_driver_version")(
        _matching(_DRIVER_VERSION, "an NVIDIA driver version (e.g. 535.161.08)")
    )

    _key_pair = field_validator("key_name")(_matching(_KEY_PAIR_NAME, "an ECS key pair name"))

    @field_validator("image_type")
    @classmethod
    def _image_type(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9 ]{1,64}", value, re.ASCII):
            allowed = ", ".join(node_images.allowed_image_types(tuning.DEFAULT_KERNEL_FLOOR))
            raise ValueError(f"unknown image type {value!r}; allowed: {allowed}")
        return value

    @model_validator(mode="after")
    def _kernel_floor(self) -> NodePoolSettings:
        problem = node_images.image_kernel_problem(self.image_type, self.kernel_floor, self.kernel_version)
        if problem:
            raise ValueError(f"imageType: {problem}")
        if self.image_type == node_images.CUSTOM_IMAGE_TYPE and not self.image_id:
            raise ValueError("imageId is required when imageType is 'Custom'")
        return self

    @property
    def max_nodes(self) -> int:
        """Most nodes the pool can have: the autoscaling maximum, or the desired size."""
        return self.autoscaling.max_size if self.autoscaling.enabled else self.desired_size

    @property
    def cache_nodes(self) -> int:
        """Nodes that are sure to hold a cache worker: the autoscaling minimum, or the desired size."""
        return self.autoscaling.min_size if self.autoscaling.enabled else self.desired_size


class DatasetSettings(_Model):
    """One training dataset in OSS, cached by Alluxio and read through FUSE."""

    name: str = Field(description="Short name; the Alluxio path is '/' for the first dataset, '/<name>' otherwise.")
    bucket: str = Field(description="OSS bucket name (created by this stack).")
    prefix: str = Field(default="", description="Key prefix of the dataset inside the bucket.")
    size_gib: float = Field(gt=0, le=MAX_DATASET_GIB, description="Dataset size in GiB (for cache sizing, row 13).")
    file_count: int = Field(ge=1, le=MAX_FILE_COUNT, description="Number of files (sizes the metadata cache, row 7).")
    read_only: bool = Field(default=True, description="Training reads only; enables kernel_cache,ro.")
    change_interval: str = Field(
        default="24h", description="How often the data changes; the metadata cache expires after it (row 7)."
    )
    region: str | None = Field(default=None, description="Bucket region; must equal the stack region.")
    credentials: Literal["create", "existing"] = Field(
        default="create",
        description="'create' a read-only RAM user and key, or use the secret keys ossAccessKeyId/ossAccessKeySecret.",
    )
    kms_key_id: str | None = Field(default=None, description="KMS key for SSE-KMS; AES256 when unset.")

    _interval = field_validator("change_interval")(_check_duration)

    @field_validator("name")
    @classmethod
    def _dns(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value) or len(value) > 30:
            raise ValueError(f"{value!r} must be a DNS label of at most 30 characters")
        return value

    @field_validator("bucket")
    @classmethod
    def _bucket(cls, value: str) -> str:
        if not _BUCKET_NAME.fullmatch(value):
            raise ValueError(
                f"{value!r} is not an OSS bucket name (3-63 lowercase letters, digits and hyphens, "
                "starting and ending with a letter or digit)"
            )
        return value

    @field_validator("prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not _OSS_PREFIX.fullmatch(value) or ".." in value.split("/"):
            raise ValueError(
                f"{value!r} is not a plain OSS key prefix (ASCII letters, digits, / ! _ . * ' ( ) -, no '..')"
            )
        return value.strip("/")

    @field_validator("change_interval")
    @classmethod
    def _at_most_ten_years(cls, value: str) -> str:
        if duration_seconds(value) > TEN_YEARS_SECONDS:
            raise ValueError(f"{value!r} is longer than ten years; use at most 3650d")
        return value

    _region = field_validator("region")(_matching(_REGION, "an Alibaba Cloud region id (e.g. cn-beijing)"))

    _kms = field_validator("kms_key_id")(_matching(_KMS_KEY_ID, "a KMS key id"))

    @property
    def size_bytes(self) -> int:
        return int(self.size_gib * 2**30)


class CacheSettings(_Model):
    """The Alluxio worker cache: one MEM tier on a host path shared with FUSE (rows 10, 13)."""

    medium: Literal["MEM", "SSD"] = Field(default="MEM", description="Tier medium.")
    quota_per_node: str = Field(default="40Gi", description="Tier quota on each cache node (the study: 40 GB).")
    host_path: str = Field(
        default="/dev/shm/alluxio-cache",
        description="Host directory of the tier; worker and FUSE both mount it so short-circuit is a file read.",
    )
    high_watermark: float = Field(default=0.95, gt=0, le=1, description="Tier usage that starts eviction.")
    low_watermark: float = Field(default=0.7, gt=0, le=1, description="Tier usage eviction stops at.")
    warmup: bool | None = Field(
        default=None, description="Load the dataset into the cache before training; default on in prod only."
    )

    _quota = field_validator("quota_per_node")(_check_memory)
    _host_path = field_validator("host_path")(_check_host_path)

    @model_validator(mode="after")
    def _watermarks(self) -> CacheSettings:
        if self.low_watermark >= self.high_watermark:
            raise ValueError("lowWatermark must be below highWatermark")
        return self


class AlluxioClientSettings(_Model):
    """Client tuning (rows 4-9); defaults are the study's values."""

    worker_list_refresh_interval: str = Field(
        default="10min", description="Row 8: worker-list refresh; must exceed Alluxio's 2min default."
    )
    avoid_eviction_reserved: str = Field(
        default="512Mi", description="Row 4: space kept free by the avoid-eviction UFS read policy."
    )
    metadata_cache_headroom: float = Field(
        default=1.1, ge=1.0, le=10, description="Row 7: metadata cache entries per dataset file."
    )

    _interval = field_validator("worker_list_refresh_interval")(_check_duration)
    _reserved = field_validator("avoid_eviction_reserved")(_check_memory)

    @field_validator("worker_list_refresh_interval")
    @classmethod
    def _above_default(cls, value: str) -> str:
        if duration_seconds(value) <= tuning.ALLUXIO_DEFAULT_WORKER_LIST_REFRESH_SECONDS:
            raise ValueError(f"{value!r} must be longer than Alluxio's default of 2min (row 8)")
        if duration_seconds(value) > TEN_YEARS_SECONDS:
            raise ValueError(f"{value!r} is longer than ten years")
        return value


class AlluxioSettings(_Model):
    """The Alluxio release: versions pinned in components/versions.py, resources per component."""

    version: str = Field(default=versions.ALLUXIO_VERSION, description="Alluxio image tag.")
    chart_version: str = Field(default=versions.ALLUXIO_CHART_VERSION, description="Official chart version.")
    namespace: str = Field(default="alluxio", description="Namespace of the master/worker release.")
    master: Resources = Field(default_factory=lambda: Resources(cpu="4", memory="16Gi"))
    job_master: Resources = Field(default_factory=lambda: Resources(cpu="2", memory="4Gi"))
    worker: Resources = Field(default_factory=lambda: Resources(cpu="8", memory="56Gi"))
    job_worker: Resources = Field(default_factory=lambda: Resources(cpu="2", memory="4Gi"))
    client: AlluxioClientSettings = Field(default_factory=AlluxioClientSettings)
    journal_storage_class: str = Field(
        default="alicloud-disk-topology-alltype",
        description="StorageClass of the master's journal volume (ACK has no 'standard', the chart's default).",
    )
    journal_size: str = Field(default="20Gi", description="Journal volume size (ACK cloud disks start at 20Gi).")

    _journal_size = field_validator("journal_size")(_check_memory)

    @field_validator("version")
    @classmethod
    def _supported(cls, value: str) -> str:
        if not _ALLUXIO_VERSION.fullmatch(value):
            raise ValueError(
                f"{value!r} is not supported; this package tunes Alluxio 2.9.x (default {versions.ALLUXIO_VERSION})"
            )
        return value

    _chart_version = field_validator("chart_version")(
        _matching(_CHART_VERSION, f"a chart version (MAJOR.MINOR.PATCH, default {versions.ALLUXIO_CHART_VERSION})")
    )

    @field_validator("namespace")
    @classmethod
    def _dns(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid namespace name")
        return value

    _storage_class = field_validator("journal_storage_class")(_matching(_DNS_SUBDOMAIN, "a StorageClass name"))


class FuseSettings(_Model):
    """The Alluxio-FUSE release (rows 2, 3, 11)."""

    mount_point: str = Field(
        default=conventions.DEFAULT_FUSE_MOUNT_POINT,
        description="Host path where FUSE mounts Alluxio; its parent is bind-mounted into the FUSE pod, so it must "
        "be a directory of its own (not /mnt, /var, ...).",
    )
    entry_timeout_seconds: int = Field(
        default=7200, ge=1, le=TEN_YEARS_SECONDS, description="Row 2: kernel dentry cache TTL."
    )
    attr_timeout_seconds: int = Field(
        default=7200, ge=1, le=TEN_YEARS_SECONDS, description="Row 2: kernel attribute cache TTL."
    )
    min_timeout_seconds: int = Field(
        default=tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS,
        ge=0,
        le=TEN_YEARS_SECONDS,
        description="Floor the timeouts are checked against.",
    )
    extra_mount_options: list[str] = Field(default_factory=list, max_length=32, description="More '-o' options.")
    libfuse_version: Literal[2, 3] = Field(
        default=2,
        description="Row 3: 2 uses the image's patched libfuse2 (MAX_IDLE_THREADS env); 3 uses -o max_idle_threads.",
    )
    max_idle_threads: int | None = Field(
        default=None, ge=1, le=65536, description="Row 3: FUSE threads; derived from the training jobs when unset."
    )
    resources: Resources = Field(default_factory=lambda: Resources(cpu="8", memory="16Gi"))

    _mount_point = field_validator("mount_point")(_check_host_path)

    @field_validator("extra_mount_options")
    @classmethod
    def _no_commas(cls, value: list[str]) -> list[str]:
        managed = ("entry_timeout", "attr_timeout", "max_idle_threads", "kernel_cache", "ro", "direct_io")
        for option in value:
            if "," in option or not option:
                raise ValueError(f"{option!r}: give one option per list item")
            if not _MOUNT_OPTION.fullmatch(option):
                raise ValueError(f"{option!r} is not a FUSE mount option (name or name=value, ASCII)")
            if option.split("=")[0] in managed:
                raise ValueError(f"{option!r} is managed by this package; set the dedicated field instead")
        return value

    @model_validator(mode="after")
    def _timeouts(self) -> FuseSettings:
        for field, value in (
            ("entryTimeoutSeconds", self.entry_timeout_seconds),
            ("attrTimeoutSeconds", self.attr_timeout_seconds),
        ):
            if value < self.min_timeout_seconds:
                raise ValueError(f"{field} {value} is below minTimeoutSeconds {self.min_timeout_seconds} (row 2)")
        return self


Backend = Literal["mpijob", "tfjob", "pytorchjob", "trainjob", "job"]


class TrainingJobSettings(_Model):
    """One training job that reads its dataset through the FUSE mount."""

    name: str = Field(description="Job name (a DNS label).")
    backend: Backend = Field(default="mpijob", description="mpijob (Horovod), tfjob, pytorchjob, trainjob or job.")
    dataset: str = Field(description="Name of the dataset it reads.")
    mode: Literal["train", "probe"] = Field(
        default="train", description="'probe' runs synthetic then real data and reports the ratio."
    )
    image: str = Field(
        # The mpi-operator's benchmark image: Horovod + OpenMPI + tf_cnn_benchmarks, as the study ran.
        # It is published only as :latest, with no digest this project can state, so it is the default
        # for dev only: prod refuses any image not pinned by digest (image_references.py).
        default="mpioperator/tensorflow-benchmarks:latest",
        description="Training image; the built-in benchmark needs tf_cnn_benchmarks in it. prod requires "
        "<name>@sha256:<digest>.",
    )
    command: list[str] | None = Field(
        default=None, min_length=1, max_length=256, description="Overrides the benchmark command."
    )
    workers: int = Field(default=4, ge=1, le=1024, description="Worker pods.")
    gpus_per_worker: int = Field(default=8, ge=1, le=16, description="GPUs per worker pod.")
    resources: Resources = Field(default_factory=lambda: Resources(cpu="40", memory="160Gi"))
    reader_threads: int = Field(
        default=16, ge=1, le=1024, description="Data reader threads per worker (sizes FUSE, row 3)."
    )
    shm_size: str = Field(default="32Gi", description="Size of the /dev/shm emptyDir.")
    model: str = Field(default="resnet50", description="tf_cnn_benchmarks model.")
    batch_size: int = Field(default=256, ge=1, le=65536, description="Per-GPU batch size.")
    num_batches: int = Field(default=1000, ge=1, le=10**9, description="Benchmark batches.")
    backoff_limit: int = Field(default=3, ge=0, le=100, description="Retries before the job fails.")
    ttl_seconds_after_finished: int = Field(
        default=86400, ge=0, le=TEN_YEARS_SECONDS, description="Seconds a finished job is kept."
    )

    _shm = field_validator("shm_size")(_check_memory)

    @field_validator("name")
    @classmethod
    def _dns(cls, value: str) -> str:
        if not _DNS_LABEL.fullmatch(value) or len(value) > 40:
            raise ValueError(f"{value!r} must be a DNS label of at most 40 characters")
        return value

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        problem = image_reference_problem(value)
        if problem:
            raise ValueError(f"{value!r} {problem}")
        return value

    _model = field_validator("model")(_matching(_MODEL_NAME, "a tf_cnn_benchmarks model name (e.g. resnet50)"))

    @field_validator("command")
    @classmethod
    def _command(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any("\x00" in part for part in value):
            raise ValueError("a command argument must not contain a NUL character")
        return value

    @model_validator(mode="after")
    def _single_node_job(self) -> TrainingJobSettings:
        if self.backend == "job" and self.workers != 1:
            raise ValueError("backend 'job' runs a single pod: set workers to 1 or choose an operator backend")
        return self

    @model_validator(mode="after")
    def _backend_can_run_it(self) -> TrainingJobSettings:
        # Rules of components/job_manifests.py, checked here so bad config fails before any resource.
        problems = []
        if self.backend != "job" and not re.match(r"[a-z]", self.name):
            problems.append(f"name {self.name!r} must start with a letter: the operator names Services after it")
        if self.backend in ("pytorchjob", "trainjob") and not self.command:
            problems.append(
                f"backend {self.backend!r} has no built-in benchmark (the study's is TensorFlow): set command"
            )
        if self.mode == "probe" and self.backend not in ("mpijob", "job"):
            problems.append("mode 'probe' reruns the benchmark from the launcher: use backend 'mpijob' or 'job'")
        if self.backend in ("mpijob", "job") and self.reader_threads < self.gpus_per_worker:
            problems.append(
                f"readerThreads {self.reader_threads} is below gpusPerWorker {self.gpus_per_worker}: "
                "each Horovod rank needs at least one reader thread"
            )
        if memory_bytes(self.shm_size) > memory_bytes(self.resources.memory):
            problems.append(
                f"shmSize {self.shm_size} exceeds resources.memory {self.resources.memory}, which it is charged to"
            )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def gpus(self) -> int:
        return self.workers * self.gpus_per_worker


# Kubernetes label syntax: an optional DNS-subdomain prefix and a name of at most 63 characters.
_LABEL_NAME: Final = r"[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"
_LABEL_KEY: Final = re.compile(r"(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?" + _LABEL_NAME, re.ASCII)
_LABEL_VALUE: Final = re.compile(f"(?:{_LABEL_NAME})?", re.ASCII)
_PUSHGATEWAY_URL: Final = re.compile(
    r"https?://[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?(?:/[A-Za-z0-9._~/-]{0,1024})?", re.ASCII
)


class MonitoringSettings(_Model):
    """Prometheus operator objects and the Grafana dashboard of the data path (docs/observability.md).

    Kept in one block: the thresholds are the alerts' only source, the dashboard reads the same.
    """

    enabled: bool = Field(
        default=True,
        description="PodMonitors, a PrometheusRule and a dashboard ConfigMap; false on clusters without the "
        "Prometheus operator CRDs (monitoring.coreos.com/v1).",
    )
    namespace: str | None = Field(
        default=None, description="Namespace of the monitors, rule and dashboard; default: alluxio.namespace."
    )
    labels: dict[str, str] = Field(
        default_factory=dict,
        description="Extra labels on monitors and rules, for a Prometheus that selects them by label "
        "(e.g. release: kube-prometheus-stack).",
    )
    scrape_interval: str = Field(default="30s", description="How often Prometheus scrapes each Alluxio process.")
    training_metrics_port: int | None = Field(
        default=None, ge=1, le=65535, description="Port the training pods serve Prometheus metrics on, if any."
    )
    probe_pushgateway_url: str | None = Field(
        default=None,
        description="Pushgateway the throughput probe pushes its result to (http(s)://host:port); unset: "
        "the result stays in its ConfigMap only.",
    )
    cache_hit_rate_floor: float = Field(
        default=0.9, gt=0, le=1, description="Alert when the byte hit rate stays below this while training reads."
    )
    ufs_read_share_ceiling: float = Field(
        default=0.1, gt=0, le=1, description="Alert when more than this share of the bytes read comes from OSS."
    )
    probe_ratio_floor: float = Field(
        default=0.95, gt=0, le=1, description="Alert when the probe's real/synthetic ratio is below this."
    )

    @field_validator("scrape_interval")
    @classmethod
    def _interval(cls, value: str) -> str:
        if not re.fullmatch(r"[1-9][0-9]{0,5}(s|m)", value, re.ASCII):
            raise ValueError(f"{value!r} is not a Prometheus duration in seconds or minutes (e.g. '30s', '1m')")
        return value

    @field_validator("probe_pushgateway_url")
    @classmethod
    def _pushgateway(cls, value: str | None) -> str | None:
        if value is not None and not _PUSHGATEWAY_URL.fullmatch(value):
            raise ValueError(f"{value!r} is not an http(s) URL of a Pushgateway (e.g. http://pushgateway.monitoring:9091)")
        return value

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str | None) -> str | None:
        if value is not None and not _DNS_LABEL.fullmatch(value):
            raise ValueError(f"{value!r} is not a valid namespace name")
        return value

    @field_validator("labels")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        for key, text in value.items():
            if not _LABEL_KEY.fullmatch(key):
                raise ValueError(f"label key {key!r} is not a Kubernetes label key (e.g. 'release')")
            if not _LABEL_VALUE.fullmatch(text):
                raise ValueError(f"label {key!r}: {text!r} is not a Kubernetes label value")
        return value


class PolicySettings(_Model):
    """Which policy config the offline plan uses (policies/config/<environment>.json by default)."""

    config_file: str | None = Field(
        default=None,
        description=(
            "Path to a policy config JSON (relative to the project) for the offline plan: a regular file of at most "
            "256 KiB holding an object; in prod it may not be looser than policies/config/prod.json."
        ),
    )

    @field_validator("config_file")
    @classmethod
    def _path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _CONFIG_FILE.fullmatch(value):
            raise ValueError(f"{value!r} is not a file path (ASCII letters, digits, '.', '_', '-', '/')")
        return value


class PlatformSettings(_Model):
    """Everything one stack configures."""

    environment: Environment = Field(description="dev, staging or prod.")
    region: str = Field(description="Alibaba Cloud region of the cluster and the buckets (e.g. cn-beijing).")
    cluster: ClusterSettings
    node_pool: NodePoolSettings = Field(default_factory=NodePoolSettings)
    datasets: list[DatasetSettings] = Field(min_length=1, max_length=MAX_DATASETS)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    alluxio: AlluxioSettings = Field(default_factory=AlluxioSettings)
    fuse: FuseSettings = Field(default_factory=FuseSettings)
    jobs: list[TrainingJobSettings] = Field(default_factory=list, max_length=MAX_JOBS)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if not _REGION.fullmatch(value):
            raise ValueError(f"{value!r} is not an Alibaba Cloud region id (e.g. cn-beijing)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> PlatformSettings:
        problems: list[str] = []
        names = [d.name for d in self.datasets]
        if len(set(names)) != len(names):
            problems.append(f"datasets: dataset names must be unique, got {names}")
        buckets = [d.bucket for d in self.datasets]
        if len(set(buckets)) != len(buckets):
            problems.append(f"datasets: buckets must be unique, got {buckets}")
        for i, dataset in enumerate(self.datasets):
            if dataset.region and dataset.region != self.region:
                problems.append(
                    f"datasets[{i}].region: {dataset.region!r} differs from the stack region {self.region!r}; "
                    "the cache reads OSS over the internal endpoint of the cluster's region"
                )
        job_names = [j.name for j in self.jobs]
        if len(set(job_names)) != len(job_names):
            problems.append(f"jobs: names must be unique, got {job_names}")
        pool = self.node_pool
        for i, job in enumerate(self.jobs):
            if job.dataset not in names:
                problems.append(f"jobs[{i}].dataset: {job.dataset!r} is not a dataset; allowed: {names}")
            if job.gpus_per_worker > pool.gpus_per_node:
                problems.append(
                    f"jobs[{i}].gpusPerWorker: {job.gpus_per_worker} exceeds nodePool.gpusPerNode {pool.gpus_per_node}"
                )
            elif job.gpus > pool.gpus_per_node * pool.max_nodes:
                capacity = f"{pool.gpus_per_node} x {pool.max_nodes} nodes"
                problems.append(f"jobs[{i}].workers: {job.gpus} GPUs exceed the pool's {capacity}")
        problems += self._node_fit_problems()
        problems += self._pool_total_problems()
        problems += self._production_problems()
        node_memory = pool.memory_gib_per_node * 2**30
        if memory_bytes(self.cache.quota_per_node) >= node_memory:
            problems.append(
                f"cache.quotaPerNode: {self.cache.quota_per_node} does not fit in a node's {pool.memory_gib_per_node}Gi"
            )
        if (
            memory_bytes(self.alluxio.worker.memory) < memory_bytes(self.cache.quota_per_node)
            and self.cache.medium == "MEM"
        ):
            problems.append(
                f"alluxio.worker.memory: {self.alluxio.worker.memory} is below cache.quotaPerNode "
                f"{self.cache.quota_per_node}; a MEM tier is charged to the worker (row 13)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _node_fit_problems(self) -> list[str]:
        """Each job's worker pod must fit on one GPU node beside the Alluxio pods that may share it.

        A created cluster has only this pool, so the master and job master may land there too; the
        check is against the node's capacity (ACK's system reservations come on top).
        """
        pool, alluxio = self.node_pool, self.alluxio
        neighbours = [alluxio.worker, alluxio.job_worker, self.fuse.resources, alluxio.master, alluxio.job_master]
        base_cpu = sum(cpu_cores(r.cpu) for r in neighbours)
        base_memory = sum(memory_bytes(r.memory) for r in neighbours)
        problems = []
        for i, job in enumerate(self.jobs):
            cpu = base_cpu + cpu_cores(job.resources.cpu)
            memory = base_memory + memory_bytes(job.resources.memory)
            if cpu > pool.cpu_per_node:
                problems.append(
                    f"jobs[{i}].resources.cpu: {job.resources.cpu} plus the Alluxio pods on the node "
                    f"({base_cpu} cores) exceed nodePool.cpuPerNode {pool.cpu_per_node}"
                )
            if memory > pool.memory_gib_per_node * 2**30:
                problems.append(
                    f"jobs[{i}].resources.memory: {job.resources.memory} plus the Alluxio pods on the node "
                    f"({base_memory / 2**30:.1f}Gi) exceed nodePool.memoryGibPerNode {pool.memory_gib_per_node}"
                )
        return problems

    def _pool_total_problems(self) -> list[str]:
        """All jobs run at once on the one pool: their GPUs and cpus together must fit it.

        Each job may fit alone while all of them together leave pods Pending forever; the cpu side
        counts every worker pod plus the Alluxio pods that share each node.
        """
        pool = self.node_pool
        if not self.jobs:
            return []
        problems = []
        gpus = sum(job.gpus for job in self.jobs)
        gpu_capacity = pool.gpus_per_node * pool.max_nodes
        if gpus > gpu_capacity:
            problems.append(
                f"jobs: all {len(self.jobs)} jobs together ask for {gpus} GPUs; the pool has "
                f"{pool.gpus_per_node} x {pool.max_nodes} nodes = {gpu_capacity} "
                "(nodePool.desiredSize / autoscaling.maxSize)"
            )
        alluxio = self.alluxio
        per_node = [alluxio.worker, alluxio.job_worker, self.fuse.resources]
        alluxio_cpu = sum(cpu_cores(r.cpu) for r in per_node) * pool.max_nodes
        alluxio_cpu += cpu_cores(alluxio.master.cpu) + cpu_cores(alluxio.job_master.cpu)
        job_cpu = sum(cpu_cores(job.resources.cpu) * job.workers for job in self.jobs)
        cpu_capacity = pool.cpu_per_node * pool.max_nodes
        if job_cpu + alluxio_cpu > cpu_capacity:
            problems.append(
                f"jobs: all jobs together ask for {job_cpu} cpus beside the Alluxio pods' {alluxio_cpu}; the pool has "
                f"{pool.cpu_per_node} x {pool.max_nodes} nodes = {cpu_capacity}"
            )
        return problems

    def _production_problems(self) -> list[str]:
        """Prod safety switches that may not be turned off (they are on by default in prod)."""
        if not self.is_production:
            return []
        problems = []
        if self.cluster.mode == "create" and self.cluster.deletion_protection is False:
            problems.append(
                "cluster.deletionProtection: false is refused in prod: a created prod cluster keeps deletion "
                "protection (remove the key; it defaults to true)"
            )
        for i, job in enumerate(self.jobs):
            # Production runs training images pinned by digest only (image_references.py).
            image_problem = image_references.image_pin_problem(job.image, require_digest=True)
            if image_problem:
                problems.append(f"jobs[{i}].image: {image_problem}")
        return problems

    @property
    def is_production(self) -> bool:
        return self.environment == Environment.PROD.value

    @property
    def warmup_enabled(self) -> bool:
        return self.cache.warmup if self.cache.warmup is not None else self.is_production


def _location(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += ("." if path else "") + str(part)
    return path


_RELATIVE_PATH: Final = re.compile(
    r"([a-z][A-Za-z0-9]*(?:\[[0-9]+\])?(?:\.[a-z][A-Za-z0-9]*(?:\[[0-9]+\])?)*): (.*)", re.S | re.ASCII
)


def _model_fields_at(loc: tuple[Any, ...]) -> list[str] | None:
    """The config keys allowed inside the object at ``loc`` (camelCase), or None when unknown."""
    model: Any = PlatformSettings
    for part in loc:
        if isinstance(part, int):
            continue
        fields = {info.alias or name: info for name, info in model.model_fields.items()}
        info = fields.get(part)
        if info is None:
            return None
        model = _model_in(info.annotation)
        if model is None:
            return None
    return sorted(info.alias or name for name, info in model.model_fields.items())


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The settings model inside a field annotation (``X``, ``list[X]``, ``X | None``), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in getattr(annotation, "__args__", ()):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _unknown_key_message(loc: tuple[Any, ...]) -> str:
    """"unknown key; allowed: ...; did you mean ...?" for a key no model declares."""
    allowed = _model_fields_at(loc[:-1])
    if not allowed:
        return "unknown key"
    message = f"unknown key; allowed here: {', '.join(allowed)}"
    close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6)
    if close:
        message += f"; did you mean {close[0]!r}?"
    return message


def _shown_value(value: Any) -> str:
    """The bad value for a message, cut short so a huge value cannot flood the terminal."""
    text = repr(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _problems(error: ValidationError, hidden_keys: frozenset[str] = frozenset()) -> list[str]:
    """One line per problem: the full config key path, what is wrong, and the value given.

    The value is left out under ``hidden_keys`` (top-level keys set as secrets).
    """
    problems = []
    for item in error.errors(include_url=False):
        loc = tuple(item["loc"])
        where = _location(loc)
        value = item.get("input")
        secret = bool(loc) and loc[0] in hidden_keys
        shown = (
            ""
            if item["type"] == "missing" or isinstance(value, dict) or secret
            else f" (got {_shown_value(value)})"
        )
        if item["type"] == "extra_forbidden":
            item = {**item, "msg": _unknown_key_message(loc)}
        for message in item["msg"].removeprefix("Value error, ").split("\n"):
            path = where
            relative = _RELATIVE_PATH.fullmatch(message)
            if item["type"] == "value_error" and relative:
                # A model-level check names the field it is about ("imageType: ...").
                path = f"{where}.{relative.group(1)}" if where else relative.group(1)
                message, shown = relative.group(2), ""
            key = f"{PROJECT}:{path}" if path else PROJECT
            problems.append(f"{key}: {message}{shown}")
    return problems


def _decode(key: str, raw: Any) -> Any:
    """Config values arrive as strings; structured values are JSON (as the Pulumi CLI passes them)."""
    if not isinstance(raw, str):
        return raw
    text = raw.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise SettingsError([f"{PROJECT}:{key}: not valid JSON ({exc.msg})"]) from None
        except (ValueError, RecursionError):  # a number of thousands of digits, or nesting past the stack
            raise SettingsError([f"{PROJECT}:{key}: not a usable JSON value (too long a number or too deep)"]) from None
    return raw


def _secret_strings(value: Any) -> Iterator[str]:
    """Every string inside a config value, so a secret one can be kept out of messages."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield str(key)
            yield from _secret_strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _secret_strings(item)


def _without_secrets(problems: list[str], secrets: list[str]) -> list[str]:
    """Problems with every secret value (three characters or more) replaced by a marker."""
    ordered = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)
    cleaned = []
    for problem in problems:
        for secret in ordered:
            problem = problem.replace(secret, "[secret]")
        cleaned.append(problem)
    return cleaned


def _policy_config_problems(settings: PlatformSettings, project_root: Path) -> list[str]:
    """``policy.configFile`` must be a readable policy config, and in prod no looser than prod's."""
    key = f"{PROJECT}:policy.configFile"
    if settings.policy.config_file is None:
        return []
    path = stack_policy_config_path(settings.policy.config_file, str(settings.environment), project_root)
    try:
        config = read_policy_config(path)
    except PolicyConfigFileError as exc:
        return [f"{key}: {exc}"]
    if not settings.is_production:
        return []
    loosened = loosened_below(config, production_floor())
    if not loosened:
        return []
    return [
        f"{key}: {settings.policy.config_file!r} is looser than policies/config/prod.json, which a prod stack may "
        f"not be: {'; '.join(loosened)}"
    ]


def settings_from_config(
    config: Mapping[str, Any], secret_keys: frozenset[str] = frozenset(), *, project_root: Path | None = None
) -> PlatformSettings:
    """Validate a flat Pulumi config map (``"ack-alluxio-training:region": "cn-beijing"``, ...).

    Keys of other namespaces (``alicloud:region``...) are ignored except for consistency checks;
    secret keys (OSS access keys, kubeconfig) are checked for presence and secrecy, never read, and
    no message shows the value of any key set as a secret. With ``project_root`` (the offline plan),
    ``policy.configFile`` is read and checked too.
    """
    prefix = f"{PROJECT}:"
    data: dict[str, Any] = {}
    problems: list[str] = []
    hidden: set[str] = set()
    secrets: list[str] = []
    for full_key, raw in config.items():
        if not full_key.startswith(prefix):
            continue
        key = full_key[len(prefix) :]
        if full_key in secret_keys:
            hidden.add(key)
            secrets += _secret_strings(raw)
        if key in SECRET_CONFIG_KEYS:
            if full_key not in secret_keys:
                problems.append(f"{full_key}: must be set as a secret (pulumi config set --secret {key} ...)")
            continue
        try:
            data[key] = _decode(key, raw)
        except SettingsError as exc:
            problems += exc.problems
    try:
        settings = PlatformSettings.model_validate(data)
    except ValidationError as exc:
        raise SettingsError(_without_secrets(problems + _problems(exc, frozenset(hidden)), secrets)) from None
    if project_root is not None:
        problems += _policy_config_problems(settings, project_root)
    provider_region = config.get("alicloud:region")
    if provider_region and provider_region != settings.region:
        problems.append(
            f"{PROJECT}:region: {settings.region!r} differs from alicloud:region {provider_region!r}; set them equal"
        )
    for i, dataset in enumerate(settings.datasets):
        if dataset.credentials == "existing":
            for key in ("ossAccessKeyId", "ossAccessKeySecret"):
                if f"{prefix}{key}" not in config:
                    problems.append(
                        f"{PROJECT}:datasets[{i}].credentials: 'existing' needs the secret {key} "
                        f"(pulumi config set --secret {key} ...)"
                    )
    if settings.cluster.mode == "adopt" and f"{prefix}kubeconfig" not in config:
        problems.append(
            f"{PROJECT}:cluster.mode: 'adopt' needs the cluster's kubeconfig as the secret 'kubeconfig' "
            "(pulumi config set --secret kubeconfig < kubeconfig.yaml)"
        )
    if problems:
        raise SettingsError(_without_secrets(problems, secrets))
    return settings


def load_settings() -> PlatformSettings:
    """Read and validate the running stack's config (real engine or the in-process mock engine)."""
    from pulumi.runtime import config as runtime_config

    merged: dict[str, Any] = dict(runtime_config.get_config_env())
    merged.update(runtime_config.CONFIG.get())
    secret_keys = set(runtime_config.get_config_secret_keys_env()) | set(runtime_config._SECRET_KEYS.get())
    return settings_from_config(merged, frozenset(secret_keys))


__all__ = [
    "AlluxioClientSettings",
    "AlluxioSettings",
    "AutoscalingSettings",
    "CacheSettings",
    "ClusterSettings",
    "DatasetSettings",
    "Environment",
    "FuseSettings",
    "NodePoolSettings",
    "PlatformSettings",
    "PolicySettings",
    "Resources",
    "SettingsError",
    "TrainingJobSettings",
    "load_settings",
    "settings_from_config",
]
