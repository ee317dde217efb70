"""GpuNodePool: the ACK cluster (adopted or created) and the GPU node pool the platform runs on.

The pool is where tuning row 1 is decided: its image fixes the kernel FUSE runs on, so an image
below the kernel floor (or one whose kernel nobody declared) is refused before anything is
registered. The pool also labels and taints its nodes (``components/scheduling.py``) so that only
the platform's pods land there, pins CPUs for Guaranteed pods (kubelet ``cpuManagerPolicy:
static``, rows 11-12) and builds the Kubernetes provider every in-cluster child uses (the
pulumi-eks pattern).
"""

import base64
from collections.abc import Sequence
from typing import Any, Final, Required, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s
from pulumi_alicloud import cs

from ack_alluxio_training import instance_lookup, node_images, scheduling, tuning, versions
from ack_alluxio_training.conventions import ENVIRONMENT_TAG, GPUS_PER_NODE_TAG, KERNEL_VERSION_TAG, REGION_TAG
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.settings import (
    PROJECT,
    CacheSettings,
    ClusterSettings,
    DataDisk,
    PlatformSettings,
    SettingsError,
)

TYPE_TOKEN: Final = f"{PROJECT}:index:GpuNodePool"
#: Secret config key holding an adopted cluster's kubeconfig.
KUBECONFIG_CONFIG_KEY: Final = "kubeconfig"
#: ACK's scaling-group class for GPU instance types (``scaling_config.type``).
GPU_SCALING_TYPE: Final = "gpu"
#: Exclusive cores for Guaranteed pods with integer cpu: the JVMs see and keep their own CPUs.
CPU_MANAGER_POLICY: Final = "static"
#: /dev/shm is a tmpfs the kernel sizes to half the node's memory unless told otherwise.
SHM_SHARE_OF_MEMORY: Final = 0.5


class ManagedClusterArgs(TypedDict, total=False):
    """A managed ACK cluster to create (instead of adopting one by id)."""

    name: Required[pulumi.Input[str]]
    """Cluster name."""
    vswitch_ids: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """vSwitches of the control plane; also the node pool's when it names none."""
    kubernetes_version: pulumi.Input[str]
    """Kubernetes version in ACK's naming (e.g. ``1.33.1-aliyun.1``); pinned so upgrades are deliberate."""
    cluster_spec: pulumi.Input[str]
    """ACK edition: ``ack.pro.small`` (default) or ``ack.standard``."""
    pod_cidr: pulumi.Input[str]
    """Pod CIDR (flannel)."""
    service_cidr: pulumi.Input[str]
    """Service CIDR."""
    deletion_protection: pulumi.Input[bool]
    """Refuse cluster deletion in the cloud console and API (on in prod)."""


class AutoscalingArgs(TypedDict):
    """Bounds of GPU-aware autoscaling; giving them turns autoscaling on."""

    min_size: pulumi.Input[int]
    """Fewest nodes."""
    max_size: pulumi.Input[int]
    """Most nodes."""


class DataDiskArgs(TypedDict, total=False):
    """An extra data disk on each node."""

    category: pulumi.Input[str]
    """Disk category (``cloud_essd``...)."""
    size_gib: pulumi.Input[int]
    """Size in GiB."""
    performance_level: pulumi.Input[str]
    """ESSD performance level (``PL0``-``PL3``)."""


class GpuNodePoolArgs(TypedDict, total=False):
    """Arguments of :class:`GpuNodePool`. Give ``cluster_id`` + ``kubeconfig``, or ``cluster``."""

    cluster_id: pulumi.Input[str]
    """Existing ACK cluster to adopt."""
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of the adopted cluster (kept a secret)."""
    cluster: ManagedClusterArgs
    """Create a managed cluster instead of adopting one."""
    node_pool_name: Required[pulumi.Input[str]]
    """Node pool name; also the value of the pool-name node label."""
    instance_types: Required[pulumi.Input[Sequence[pulumi.Input[str]]]]
    """ECS GPU instance types, in order of preference."""
    desired_size: pulumi.Input[int]
    """Nodes when autoscaling is off."""
    autoscaling: AutoscalingArgs
    """GPU-aware autoscaling bounds; replaces ``desired_size``."""
    image_type: pulumi.Input[str]
    """ACK image type; its kernel must reach ``kernel_floor`` (default ``AliyunLinux3``, kernel 5.10)."""
    image_id: pulumi.Input[str]
    """Custom image id; only with ``image_type`` ``Custom``."""
    kernel_version: pulumi.Input[str]
    """Kernel of the Custom image, checked against ``kernel_floor``."""
    kernel_floor: pulumi.Input[str]
    """Lowest kernel FUSE may run on (default 4.19, tuning row 1)."""
    system_disk_category: pulumi.Input[str]
    """System disk category (ACK's default when unset)."""
    system_disk_size_gib: pulumi.Input[int]
    """System disk size in GiB (ACK's default when unset)."""
    data_disks: Sequence[DataDiskArgs]
    """Extra data disks on each node."""
    vswitch_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """vSwitches of the nodes; default: the created cluster's."""
    security_group_ids: pulumi.Input[Sequence[pulumi.Input[str]]]
    """Security groups of the nodes; default: the cluster's."""
    nvidia_driver_version: pulumi.Input[str]
    """NVIDIA driver ACK installs on new nodes (set as the ack.aliyun.com/nvidia-driver-version label)."""
    key_name: pulumi.Input[str]
    """ECS key pair for node login."""
    cache_host_path: pulumi.Input[str]
    """Host directory of the Alluxio tier on these nodes, shared by worker and FUSE (row 10)."""
    region: pulumi.Input[str]
    """Region of the cluster; tagged on it and the nodes so policies can match it with the buckets'."""
    gpus_per_node: pulumi.Input[int]
    """GPUs on each node of these instance types; tagged so policies can size FUSE threads per node (row 3)."""
    cpu_per_node: pulumi.Input[int]
    """Least vCPUs of a node of these types (checked by the deploy-time lookup)."""
    memory_gib_per_node: pulumi.Input[int]
    """Least memory of a node of these types in GiB (checked by the deploy-time lookup)."""
    confirm_instance_types: bool
    """Confirm each type's GPUs, vCPUs and memory with alicloud.ecs.getInstanceTypes before creating the pool."""
    environment: pulumi.Input[str]
    """The stack's environment (``prod``...), tagged so the pack's prod-safety-switches knows production."""


def image_problem(image_type: str, image_id: str | None, kernel_version: str | None, floor: str) -> str | None:
    """Why this image cannot host the FUSE cache (row 1), or None.

    Beyond the kernel table, an ``image_id`` with a non-Custom ``image_type`` is refused: ACK would
    boot the given image, whose kernel the type then no longer describes.
    """
    problem = node_images.image_kernel_problem(image_type, floor, kernel_version)
    if problem:
        return problem
    if image_type == node_images.CUSTOM_IMAGE_TYPE and not image_id:
        return "a Custom image needs image_id"
    if image_type != node_images.CUSTOM_IMAGE_TYPE and image_id:
        return f"image_id is only allowed with image_type 'Custom' (got {image_type!r}) so its kernel is declared"
    return None


def _image_inputs(args: GpuNodePoolArgs) -> tuple[pulumi.Input[str] | None, ...]:
    """image type, image id, declared kernel and kernel floor, with the defaults filled in."""
    return (
        args.get("image_type", node_images.DEFAULT_IMAGE_TYPE),
        args.get("image_id"),
        args.get("kernel_version"),
        args.get("kernel_floor", tuning.DEFAULT_KERNEL_FLOOR),
    )


def _checked_image_type(values: list[Any]) -> str:
    image_type, image_id, kernel_version, floor = values
    problem = image_problem(image_type, image_id, kernel_version, floor)
    if problem:
        raise ValueError(f"GpuNodePool: {problem}")
    return str(image_type)


def _argument_problems(args: GpuNodePoolArgs) -> list[str]:
    """Problems visible before registration (values not yet known are checked when they resolve)."""
    problems: list[str] = []
    adopt = "cluster_id" in args
    if adopt == ("cluster" in args):
        problems.append("give either cluster_id (with kubeconfig) to adopt a cluster, or cluster to create one")
    if adopt and "kubeconfig" not in args:
        problems.append("an adopted cluster needs its kubeconfig")
    instance_types = args["instance_types"]
    if isinstance(instance_types, (list, tuple)):
        if not instance_types:
            problems.append("instance_types must name at least one GPU instance type")
        bad = node_images.non_gpu_instance_types(t for t in instance_types if isinstance(t, str))
        if bad:
            problems.append(f"not GPU instance types: {bad}")
    image = _image_inputs(args)
    if all(value is None or isinstance(value, str) for value in image):
        problem = image_problem(*cast(tuple[str, str | None, str | None, str], image))
        if problem:
            problems.append(problem)
    if not args.get("vswitch_ids") and not args.get("cluster", {}).get("vswitch_ids"):
        problems.append("the nodes need vswitch_ids (or a created cluster's vswitch_ids)")
    return problems


def _scaling(args: GpuNodePoolArgs) -> dict[str, Any]:
    """``scaling_config`` of type gpu when autoscaling, else a fixed ``desired_size``.

    ACK refuses both at once: an autoscaled pool's size belongs to the autoscaler.
    """
    autoscaling = args.get("autoscaling")
    if autoscaling is not None:
        return {
            "scaling_config": cs.NodePoolScalingConfigArgs(
                enable=True,
                min_size=autoscaling["min_size"],
                max_size=autoscaling["max_size"],
                type=GPU_SCALING_TYPE,
            )
        }
    size = args.get("desired_size")
    # The provider takes the desired size as a string.
    return {} if size is None else {"desired_size": pulumi.Output.from_input(size).apply(str)}


def _data_disks(disks: Sequence[DataDiskArgs]) -> list[cs.NodePoolDataDiskArgs]:
    return [
        cs.NodePoolDataDiskArgs(
            category=disk.get("category"), size=disk.get("size_gib"), performance_level=disk.get("performance_level")
        )
        for disk in disks
    ]


def _fact_tags(facts: dict[str, pulumi.Input[Any] | None]) -> pulumi.Output[dict[str, str]] | None:
    """Tags that state facts the policy pack cannot see in a resource's own settings (unset facts left out)."""
    known = {key: value for key, value in facts.items() if value is not None}
    if not known:
        return None
    return pulumi.Output.all(**known).apply(lambda values: {key: str(value) for key, value in values.items()})


class GpuNodePool(pulumi.ComponentResource):
    """An ACK cluster's GPU node pool on a FUSE-capable kernel, and a provider for that cluster."""

    cluster_id: pulumi.Output[str]
    """Id of the ACK cluster (adopted or created)."""
    kubeconfig: pulumi.Output[str]
    """Kubeconfig of the cluster (a secret); give it to the Alluxio components and jobs."""
    node_selector: pulumi.Output[dict[str, str]]
    """nodeSelector that puts a pod on this pool."""
    tolerations: pulumi.Output[list[dict[str, str]]]
    """Tolerations a pod needs for this pool's GPU taint."""
    cache_host_path: pulumi.Output[str]
    """Host directory the nodes' user data creates for the cache tier, owned by uid 1000."""
    node_pool_id: pulumi.Output[str]
    """Id of the ACK node pool."""
    labels: pulumi.Output[dict[str, str]]
    """Labels on every node of the pool."""
    taints: pulumi.Output[list[dict[str, str]]]
    """Taints on every node of the pool."""

    def __init__(self, name: str, args: GpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problems = _argument_problems(args)
        if problems:
            raise ValueError(f"GpuNodePool {name!r}: " + "; ".join(problems))
        super().__init__(TYPE_TOKEN, name, {}, opts)

        self.cluster: cs.ManagedKubernetes | None = None
        if "cluster" in args:
            self.cluster = self._create_cluster(name, args["cluster"], args.get("region"), args.get("environment"))
            self.cluster_id = self.cluster.id
            credential = cs.get_cluster_credential_output(
                cluster_id=self.cluster.id, opts=pulumi.InvokeOutputOptions(parent=self)
            )
            self.kubeconfig = pulumi.Output.secret(credential.kube_config)
        else:
            self.cluster_id = pulumi.Output.from_input(args["cluster_id"])
            self.kubeconfig = pulumi.Output.secret(args["kubeconfig"])

        labels = pulumi.Output.all(args["node_pool_name"], args.get("nvidia_driver_version")).apply(
            lambda values: scheduling.node_labels(values[0], values[1])
        )
        taints = scheduling.node_taints()
        default_host_path = CacheSettings.model_fields["host_path"].default
        self.cache_host_path = pulumi.Output.from_input(args.get("cache_host_path", default_host_path))
        self.node_pool: cs.NodePool = self._create_node_pool(name, args, labels, taints)
        self.node_pool_id = self.node_pool.node_pool_id
        self.labels = labels
        self.taints = pulumi.Output.from_input(taints)
        self.node_selector = pulumi.Output.from_input(scheduling.node_selector())
        self.tolerations = pulumi.Output.from_input(scheduling.tolerations())

        # Everything deployed through this provider waits for the GPU nodes: the Alluxio workers
        # and FUSE pods select them and would sit Pending otherwise.
        # Exposed for Python callers (a provider is not a schema output; other languages use kubeconfig).
        self.kubernetes_provider: k8s.Provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.node_pool]),
        )
        self.register_outputs(
            {
                "clusterId": self.cluster_id,
                "kubeconfig": self.kubeconfig,
                "nodePoolId": self.node_pool_id,
                "nodeSelector": self.node_selector,
                "tolerations": self.tolerations,
                "labels": self.labels,
                "taints": self.taints,
                "cacheHostPath": self.cache_host_path,
            }
        )

    def _create_cluster(
        self,
        name: str,
        cluster: ManagedClusterArgs,
        region: pulumi.Input[str] | None,
        environment: pulumi.Input[str] | None = None,
    ) -> cs.ManagedKubernetes:
        """A managed cluster with RRSA on (pods can get RAM roles without keys; once on, it stays on)."""
        return cs.ManagedKubernetes(
            f"{name}-cluster",
            name=cluster["name"],
            version=cluster.get("kubernetes_version"),
            cluster_spec=cluster.get("cluster_spec", ClusterSettings.model_fields["cluster_spec"].default),
            vswitch_ids=cluster["vswitch_ids"],
            pod_cidr=cluster.get("pod_cidr"),
            service_cidr=cluster.get("service_cidr"),
            deletion_protection=cluster.get("deletion_protection", False),
            enable_rrsa=True,
            tags=_fact_tags({REGION_TAG: region, ENVIRONMENT_TAG: environment}),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _create_node_pool(
        self,
        name: str,
        args: GpuNodePoolArgs,
        labels: pulumi.Output[dict[str, str]],
        taints: list[dict[str, str]],
    ) -> cs.NodePool:
        # Values that were Outputs at construction are checked here, when they resolve.
        image_type = pulumi.Output.all(*_image_inputs(args)).apply(_checked_image_type)
        vswitch_ids = args.get("vswitch_ids") or args.get("cluster", {}).get("vswitch_ids")
        return cs.NodePool(
            f"{name}-pool",
            cluster_id=self.cluster_id,
            node_pool_name=args["node_pool_name"],
            instance_types=self._instance_types(args),
            image_type=image_type,
            image_id=args.get("image_id"),
            vswitch_ids=vswitch_ids,
            security_group_ids=args.get("security_group_ids") or None,
            system_disk_category=args.get("system_disk_category"),
            system_disk_size=args.get("system_disk_size_gib"),
            data_disks=_data_disks(args.get("data_disks", [])) or None,
            key_name=args.get("key_name"),
            labels=labels.apply(lambda ls: [cs.NodePoolLabelArgs(key=k, value=v) for k, v in ls.items()]),
            taints=[cs.NodePoolTaintArgs(key=t["key"], value=t["value"], effect=t["effect"]) for t in taints],
            kubelet_configuration=cs.NodePoolKubeletConfigurationArgs(cpu_manager_policy=CPU_MANAGER_POLICY),
            user_data=self.cache_host_path.apply(cache_directory_user_data),
            tags=_fact_tags(
                {
                    REGION_TAG: args.get("region"),
                    GPUS_PER_NODE_TAG: args.get("gpus_per_node"),
                    KERNEL_VERSION_TAG: args.get("kernel_version"),
                    ENVIRONMENT_TAG: args.get("environment"),
                }
            ),
            **_scaling(args),
            opts=pulumi.ResourceOptions(parent=self),
        )


    def _instance_types(self, args: GpuNodePoolArgs) -> pulumi.Input[Sequence[pulumi.Input[str]]]:
        """The types as given, or (with confirm_instance_types) once the cloud confirmed their shape."""
        if not args.get("confirm_instance_types") or "gpus_per_node" not in args:
            return args["instance_types"]
        return instance_lookup.confirmed_instance_types(
            args["instance_types"],
            args["gpus_per_node"],
            args.get("cpu_per_node", 0),
            args.get("memory_gib_per_node", 0),
            parent=self,
        )


def cache_directory_user_data(host_path: str, owner_uid: int = versions.ALLUXIO_IMAGE_UID) -> str:
    """Node user data (base64) that creates the cache tier directory for the Alluxio user at every boot.

    Row 10: the worker and FUSE share this host directory; the kubelet would create a missing one
    as root 0755, which the worker (uid 1000) cannot write, and ``/dev/shm`` is emptied on reboot,
    so a systemd-tmpfiles rule recreates it with the right owner before the kubelet starts pods.
    """
    rule = f"d {host_path} 0750 {owner_uid} {owner_uid} -"
    script = (
        "#!/bin/bash\n"
        "set -euo pipefail\n"
        f"echo '{rule}' > /etc/tmpfiles.d/alluxio-cache.conf\n"
        "systemd-tmpfiles --create /etc/tmpfiles.d/alluxio-cache.conf\n"
    )
    return base64.b64encode(script.encode()).decode()


def _shm_problem(settings: PlatformSettings) -> str | None:
    """A MEM tier under /dev/shm must fit the tmpfs, which is half the node's memory by default."""
    host_path = settings.cache.host_path
    if settings.cache.medium != "MEM" or not (host_path + "/").startswith("/dev/shm/"):
        return None
    shm_bytes = int(settings.node_pool.memory_gib_per_node * 2**30 * SHM_SHARE_OF_MEMORY)
    if memory_bytes(settings.cache.quota_per_node) > shm_bytes:
        return (
            f"{PROJECT}:cache.quotaPerNode: {settings.cache.quota_per_node} does not fit in {host_path}'s tmpfs "
            f"(half of the node's {settings.node_pool.memory_gib_per_node}Gi); use a smaller quota or another hostPath"
        )
    return None


def _settings_problems(settings: PlatformSettings) -> list[str]:
    """Checks that join node pool and cluster settings (beyond what each model checks alone)."""
    pool = settings.node_pool
    problems = []
    image = image_problem(pool.image_type, pool.image_id, pool.kernel_version, pool.kernel_floor)
    if image:
        problems.append(f"{PROJECT}:nodePool.imageId: {image}")
    if not pool.vswitch_ids and not settings.cluster.vswitch_ids:
        problems.append(f"{PROJECT}:nodePool.vswitchIds: required when the cluster is adopted (mode 'adopt')")
    shm = _shm_problem(settings)
    if shm:
        problems.append(shm)
    return problems


def gpu_node_pool_args(settings: PlatformSettings) -> GpuNodePoolArgs:
    """Map validated settings onto the node pool's args; an adopted cluster's kubeconfig is the secret key."""
    problems = _settings_problems(settings)
    if problems:
        raise SettingsError(problems)
    pool = settings.node_pool
    args = GpuNodePoolArgs(
        node_pool_name=pool.name,
        instance_types=list(pool.instance_types),
        image_type=pool.image_type,
        kernel_floor=pool.kernel_floor,
        system_disk_category=pool.system_disk_category,
        system_disk_size_gib=pool.system_disk_size_gib,
        data_disks=[_data_disk_args(d) for d in pool.data_disks],
        vswitch_ids=list(pool.vswitch_ids or settings.cluster.vswitch_ids),
        cache_host_path=settings.cache.host_path,
        region=settings.region,
        gpus_per_node=pool.gpus_per_node,
        cpu_per_node=pool.cpu_per_node,
        memory_gib_per_node=pool.memory_gib_per_node,
        confirm_instance_types=pool.confirm_instance_types,
        environment=str(settings.environment),
    )
    if pool.image_id:
        args["image_id"] = pool.image_id
    if pool.kernel_version:
        args["kernel_version"] = pool.kernel_version
    if pool.nvidia_driver_version:
        args["nvidia_driver_version"] = pool.nvidia_driver_version
    if pool.key_name:
        args["key_name"] = pool.key_name
    if pool.security_group_ids:
        args["security_group_ids"] = list(pool.security_group_ids)
    if pool.autoscaling.enabled:
        args["autoscaling"] = AutoscalingArgs(min_size=pool.autoscaling.min_size, max_size=pool.autoscaling.max_size)
    else:
        args["desired_size"] = pool.desired_size
    cluster = settings.cluster
    if cluster.mode == "adopt":
        assert cluster.cluster_id is not None  # the settings model requires it in adopt mode
        args["cluster_id"] = cluster.cluster_id
        args["kubeconfig"] = pulumi.Config(PROJECT).require_secret(KUBECONFIG_CONFIG_KEY)
    else:
        protection = cluster.deletion_protection
        args["cluster"] = ManagedClusterArgs(
            name=cluster.name,
            kubernetes_version=cluster.kubernetes_version,
            cluster_spec=cluster.cluster_spec,
            vswitch_ids=list(cluster.vswitch_ids),
            pod_cidr=cluster.pod_cidr,
            service_cidr=cluster.service_cidr,
            deletion_protection=settings.is_production if protection is None else protection,
        )
    return args


def _data_disk_args(disk: DataDisk) -> DataDiskArgs:
    args = DataDiskArgs(category=disk.category, size_gib=disk.size_gib)
    if disk.performance_level:
        args["performance_level"] = disk.performance_level
    return args


__all__ = [
    "TYPE_TOKEN",
    "AutoscalingArgs",
    "DataDiskArgs",
    "GpuNodePool",
    "GpuNodePoolArgs",
    "ManagedClusterArgs",
    "gpu_node_pool_args",
    "image_problem",
]
