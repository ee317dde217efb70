"""GpuNodePool: a FUSE-capable kernel or nothing, GPU-only nodes the platform alone may use."""

from __future__ import annotations

import base64
import copy
from typing import Any, cast

import pulumi
import pytest
import yaml

from ack_alluxio_training import scheduling
from ack_alluxio_training.conventions import ENVIRONMENT_TAG, GPUS_PER_NODE_TAG, KERNEL_VERSION_TAG, REGION_TAG
from ack_alluxio_training.node_pool import GpuNodePool, GpuNodePoolArgs, gpu_node_pool_args
from ack_alluxio_training.offline.mock_engine import (
    MOCK_KUBECONFIG,
    SECRET_SIG,
    PlanResult,
    RecordedResource,
    run_program,
)
from ack_alluxio_training.offline.stack_config import STACKS_DIR, StackConfig, config_from_mapping
from ack_alluxio_training.settings import PROJECT, SettingsError, settings_from_config

NODE_POOL = "alicloud:cs/nodePool:NodePool"
CLUSTER = "alicloud:cs/managedKubernetes:ManagedKubernetes"
K8S_PROVIDER = "pulumi:providers:kubernetes"
ADOPT_KUBECONFIG = "apiVersion: v1\nkind: Config\n# adopted\n"


# --- helpers -------------------------------------------------------------------------------------


def stack_config(stack: str, **sections: Any) -> StackConfig:
    """A stack's config with some sections' keys replaced (``nodePool={"imageType": ...}``, ``jobs=[]``)."""
    raw = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    for section, changes in sections.items():
        key = f"{PROJECT}:{section}"
        raw[key] = {**copy.deepcopy(raw.get(key, {})), **changes} if isinstance(changes, dict) else changes
    return config_from_mapping(stack, raw)


def plan_stack(config: StackConfig) -> PlanResult:
    """Run the pool as the platform builds it from the stack's settings, exporting its outputs."""

    def program() -> None:
        settings = settings_from_config(config.values, config.secret_keys)
        pool = GpuNodePool("gpu", gpu_node_pool_args(settings))
        for key in ("cluster_id", "kubeconfig", "node_selector", "tolerations", "cache_host_path", "labels", "taints"):
            pulumi.export(key, getattr(pool, key))

    return run_program(config, program)


def adopt_args(**overrides: Any) -> GpuNodePoolArgs:
    """Args of a pool on an adopted cluster; call inside a program (the kubeconfig is an Output)."""
    args: dict[str, Any] = {
        "cluster_id": "c-adopted",
        "kubeconfig": pulumi.Output.secret(ADOPT_KUBECONFIG),
        "node_pool_name": "gpu-test",
        "instance_types": ["ecs.gn7i-c8g1.2xlarge"],
        "vswitch_ids": ["vsw-test"],
        "desired_size": 2,
    }
    args.update(overrides)
    return cast(GpuNodePoolArgs, args)


def plan_args(**overrides: Any) -> PlanResult:
    def program() -> None:
        GpuNodePool("gpu", adopt_args(**overrides))

    return run_program(config_from_mapping("dev", {}), program)


def refusal(**overrides: Any) -> tuple[str, PlanResult]:
    """The message a refused pool raises, and what the engine saw (it must see no node pool)."""
    messages: list[str] = []

    def program() -> None:
        with pytest.raises(ValueError) as raised:
            GpuNodePool("gpu", adopt_args(**overrides))
        messages.append(str(raised.value))

    result = run_program(config_from_mapping("dev", {}), program)
    return messages[0], result


def only(result: PlanResult, token: str) -> RecordedResource:
    matches = result.by_type(token)
    assert len(matches) == 1, [r.name for r in matches]
    return matches[0]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


# --- row 1: the kernel ---------------------------------------------------------------------------

REFUSED_IMAGES = [
    # (id, component args, the reason the message must give)
    ("alinux2", {"image_type": "AliyunLinux"}, "end-of-life"),
    ("alinux2-uefi", {"image_type": "AliyunLinuxUEFI"}, "end-of-life"),
    ("centos", {"image_type": "CentOS"}, "below the FUSE floor"),
    ("ubuntu", {"image_type": "Ubuntu"}, "Ubuntu is not supported"),
    ("containeros", {"image_type": "ContainerOS"}, "not supported on GPU nodes"),
    ("arm64", {"image_type": "AliyunLinux3Arm64"}, "Arm64"),
    ("unknown", {"image_type": "Debian"}, "unknown image type"),
    ("custom-without-kernel", {"image_type": "Custom", "image_id": "m-1"}, "declare its kernel"),
    ("custom-4.14", {"image_type": "Custom", "image_id": "m-1", "kernel_version": "4.14.0"}, "below the FUSE floor"),
    ("custom-without-image", {"image_type": "Custom", "kernel_version": "5.10.134"}, "needs image_id"),
    ("image-id-on-a-family", {"image_type": "AliyunLinux3", "image_id": "m-1"}, "only allowed with image_type"),
]

_CAMEL = {"image_type": "imageType", "image_id": "imageId", "kernel_version": "kernelVersion"}


@pytest.mark.parametrize(("args", "reason"), [c[1:] for c in REFUSED_IMAGES], ids=[c[0] for c in REFUSED_IMAGES])
def test_refused_image_registers_nothing(args: dict[str, str], reason: str) -> None:
    message, result = refusal(**args)
    assert reason in message
    assert not result.by_type(NODE_POOL) and not result.by_type(K8S_PROVIDER)


@pytest.mark.parametrize(("args", "reason"), [c[1:] for c in REFUSED_IMAGES], ids=[c[0] for c in REFUSED_IMAGES])
def test_refused_image_is_refused_by_the_stack_config_too(args: dict[str, str], reason: str) -> None:
    config = stack_config("prod", nodePool={_CAMEL[k]: v for k, v in args.items()})
    with pytest.raises(SettingsError) as raised:
        gpu_node_pool_args(settings_from_config(config.values, config.secret_keys))
    assert f"{PROJECT}:nodePool" in str(raised.value)


def test_refusal_lists_the_allowed_images() -> None:
    message, _ = refusal(image_type="CentOS")
    assert "AliyunLinux3" in message and "AliyunLinux4" in message


ALLOWED_IMAGES = [
    {"image_type": "AliyunLinux3"},
    {"image_type": "AliyunLinux3ContainerOptimized"},
    {"image_type": "AliyunLinux4"},
    {"image_type": "AliyunLinux4ContainerOptimized"},
    {"image_type": "Custom", "image_id": "m-alinux3-gpu", "kernel_version": "5.10.134-16.al8.x86_64"},
]


@pytest.mark.parametrize("args", ALLOWED_IMAGES, ids=[a["image_type"] for a in ALLOWED_IMAGES])
def test_allowed_image_reaches_the_node_pool(args: dict[str, str]) -> None:
    pool = only(plan_args(**args), NODE_POOL)
    assert pool.inputs["imageType"] == args["image_type"]
    assert pool.inputs.get("imageId") == args.get("image_id")


def test_default_image_is_alibaba_cloud_linux_3() -> None:
    assert only(plan_args(), NODE_POOL).inputs["imageType"] == "AliyunLinux3"


def test_kernel_floor_is_an_argument() -> None:
    message, _ = refusal(image_type="AliyunLinux3", kernel_floor="6.0")
    assert "below the FUSE floor 6.0" in message
    newer = only(plan_args(image_type="AliyunLinux4", kernel_floor="6.0"), NODE_POOL)
    assert newer.inputs["imageType"] == "AliyunLinux4"


def test_image_known_only_at_deployment_is_checked_when_it_resolves() -> None:
    def program() -> None:
        GpuNodePool("gpu", adopt_args(image_type=pulumi.Output.from_input("CentOS")))

    with pytest.raises(ValueError, match=r"CentOS 7 ships kernel 3\.10"):
        run_program(config_from_mapping("dev", {}), program)


# --- GPU instances -------------------------------------------------------------------------------


def test_non_gpu_instance_types_are_refused() -> None:
    message, result = refusal(instance_types=["ecs.gn7i-c8g1.2xlarge", "ecs.g7.16xlarge"])
    assert "ecs.g7.16xlarge" in message and "ecs.gn7i" not in message.split("not GPU instance types")[1]
    assert not result.by_type(NODE_POOL)
    message, _ = refusal(instance_types=[])
    assert "at least one" in message


def test_non_gpu_instance_types_are_refused_by_the_stack_config() -> None:
    config = stack_config("prod", nodePool={"instanceTypes": ["ecs.c7.8xlarge"]})
    with pytest.raises(SettingsError, match="not GPU instance types"):
        settings_from_config(config.values, config.secret_keys)


# --- adopted and created clusters ----------------------------------------------------------------


def test_adopted_cluster_uses_the_secret_kubeconfig_and_creates_no_cluster() -> None:
    result = plan_stack(stack_config("dev"))
    assert not result.by_type(CLUSTER)
    assert only(result, NODE_POOL).inputs["clusterId"] == "c0123456789abcdef0123456789abcdef"
    provider = only(result, K8S_PROVIDER)
    assert provider.secret_input_paths == ["kubeconfig"]
    assert provider.inputs["kubeconfig"] == "offline-placeholder-secret"
    assert is_secret(result.outputs["kubeconfig"])
    assert result.outputs["cluster_id"] == "c0123456789abcdef0123456789abcdef"


def test_adoption_needs_a_kubeconfig_and_one_cluster_source() -> None:
    def program() -> None:
        args = adopt_args()
        del args["kubeconfig"]
        with pytest.raises(ValueError, match="needs its kubeconfig"):
            GpuNodePool("a", args)
        both = adopt_args(cluster={"name": "x", "vswitch_ids": ["v"]})
        with pytest.raises(ValueError, match="either cluster_id"):
            GpuNodePool("b", both)

    assert not run_program(config_from_mapping("dev", {}), program).resources


def test_created_cluster_is_pinned_with_rrsa_and_prod_deletion_protection() -> None:
    result = plan_stack(stack_config("prod"))
    cluster = only(result, CLUSTER)
    assert cluster.inputs["enableRrsa"] is True
    assert cluster.inputs["deletionProtection"] is True
    assert cluster.inputs["version"] == "1.33.1-aliyun.1"
    assert cluster.inputs["clusterSpec"] == "ack.pro.small"
    assert cluster.inputs["vswitchIds"] == ["vsw-prd0123456789abcdef", "vsw-prd0123456789abcde1"]
    assert cluster.inputs["podCidr"] and cluster.inputs["serviceCidr"]
    pool = only(result, NODE_POOL)
    assert pool.inputs["clusterId"] == cluster.id == result.outputs["cluster_id"]
    assert pool.inputs["vswitchIds"] == cluster.inputs["vswitchIds"]


def test_created_cluster_kubeconfig_comes_from_its_credential_and_stays_secret() -> None:
    result = plan_stack(stack_config("staging"))
    provider = only(result, K8S_PROVIDER)
    assert provider.secret_input_paths == ["kubeconfig"]
    assert provider.inputs["kubeconfig"] == MOCK_KUBECONFIG
    assert is_secret(result.outputs["kubeconfig"])


def test_deletion_protection_is_off_outside_prod_unless_asked_and_required_in_prod() -> None:
    assert only(plan_stack(stack_config("staging")), CLUSTER).inputs["deletionProtection"] is False
    asked = stack_config("staging", cluster={"deletionProtection": True})
    assert only(plan_stack(asked), CLUSTER).inputs["deletionProtection"] is True
    waived = stack_config("prod", cluster={"deletionProtection": False})
    with pytest.raises(SettingsError, match=r"cluster\.deletionProtection: false is refused in prod"):
        plan_stack(waived)


def test_adopted_pool_needs_its_own_vswitches() -> None:
    config = stack_config("dev", nodePool={"vswitchIds": []})
    with pytest.raises(SettingsError, match=r"nodePool\.vswitchIds"):
        gpu_node_pool_args(settings_from_config(config.values, config.secret_keys))


# --- sizing and kubelet --------------------------------------------------------------------------


def test_fixed_size_without_autoscaling() -> None:
    pool = only(plan_stack(stack_config("prod")), NODE_POOL)
    assert pool.inputs["desiredSize"] == "4"
    assert "scalingConfig" not in pool.inputs


def test_autoscaling_is_gpu_aware_and_replaces_the_desired_size() -> None:
    config = stack_config("prod", nodePool={"autoscaling": {"enabled": True, "minSize": 2, "maxSize": 6}})
    pool = only(plan_stack(config), NODE_POOL)
    assert pool.inputs["scalingConfig"] == {"enable": True, "minSize": 2, "maxSize": 6, "type": "gpu"}
    assert "desiredSize" not in pool.inputs


def test_kubelet_pins_cpus_for_guaranteed_pods() -> None:
    pool = only(plan_stack(stack_config("dev")), NODE_POOL)
    assert pool.inputs["kubeletConfiguration"] == {"cpuManagerPolicy": "static"}


def test_disks_and_instance_types_come_from_the_settings() -> None:
    pool = only(plan_stack(stack_config("prod")), NODE_POOL)
    assert pool.inputs["instanceTypes"] == ["ecs.gn6v-c8g1.16xlarge"]
    assert pool.inputs["nodePoolName"] == "gpu-v100"
    assert pool.inputs["dataDisks"] == [{"category": "cloud_essd", "size": 500, "performanceLevel": "PL1"}]
    assert pool.inputs["systemDiskCategory"] == "cloud_essd"


# --- labels, taints and who may schedule there ---------------------------------------------------


def test_nodes_carry_the_selector_label_and_the_gpu_taint() -> None:
    result = plan_stack(stack_config("prod"))
    pool = only(result, NODE_POOL)
    labels = {item["key"]: item["value"] for item in pool.inputs["labels"]}
    assert result.outputs["node_selector"].items() <= labels.items()
    assert labels == result.outputs["labels"]
    assert labels[scheduling.NODE_POOL_LABEL_KEY] == "gpu-v100"
    assert scheduling.NVIDIA_DRIVER_LABEL_KEY not in labels
    assert pool.inputs["taints"] == [{"key": "ack-alluxio-training/gpu", "value": "true", "effect": "NoSchedule"}]
    assert result.outputs["taints"] == pool.inputs["taints"]


def test_driver_pin_becomes_the_ack_label() -> None:
    result = plan_stack(stack_config("prod", nodePool={"nvidiaDriverVersion": "535.161.07"}))
    labels = {item["key"]: item["value"] for item in only(result, NODE_POOL).inputs["labels"]}
    assert labels["ack.aliyun.com/nvidia-driver-version"] == "535.161.07"
    assert result.outputs["labels"]["ack.aliyun.com/nvidia-driver-version"] == "535.161.07"


def test_only_the_platforms_tolerations_pass_the_taint() -> None:
    result = plan_stack(stack_config("dev"))
    tolerations = result.outputs["tolerations"]
    assert tolerations == [
        {"key": "ack-alluxio-training/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}
    ]
    for taint in result.outputs["taints"]:
        assert scheduling.tolerates(tolerations, taint)
        assert not scheduling.tolerates([], taint)
        assert not scheduling.tolerates([{"key": "nvidia.com/gpu", "operator": "Exists"}], taint)
        assert scheduling.tolerates([{"operator": "Exists"}], taint)  # what a policy must catch


# --- provider and cache path ---------------------------------------------------------------------


def test_provider_is_a_child_that_waits_for_the_gpu_nodes() -> None:
    result = plan_stack(stack_config("prod"))
    component = only(result, "ack-alluxio-training:index:GpuNodePool")
    provider = only(result, K8S_PROVIDER)
    assert provider.parent == component.urn
    assert only(result, NODE_POOL).urn in provider.dependencies


def test_cache_host_path_is_the_settings_path() -> None:
    result = plan_stack(stack_config("prod", cache={"hostPath": "/dev/shm/imagenet-cache"}))
    assert result.outputs["cache_host_path"] == "/dev/shm/imagenet-cache"
    user_data = base64.b64decode(only(result, NODE_POOL).inputs["userData"]).decode()
    assert "d /dev/shm/imagenet-cache 0750 1000 1000 -" in user_data


def test_memory_tier_must_fit_the_nodes_shm() -> None:
    # prod nodes have 256Gi, so /dev/shm holds 128Gi; a 140Gi tier there would fill it.
    bigger_tier = {"alluxio": {"worker": {"cpu": "8", "memory": "150Gi"}}, "jobs": []}
    config = stack_config("prod", cache={"quotaPerNode": "140Gi"}, **bigger_tier)
    with pytest.raises(SettingsError, match="tmpfs"):
        gpu_node_pool_args(settings_from_config(config.values, config.secret_keys))
    elsewhere = stack_config("prod", cache={"quotaPerNode": "140Gi", "hostPath": "/mnt/alluxio-cache"}, **bigger_tier)
    assert plan_stack(elsewhere).outputs["cache_host_path"] == "/mnt/alluxio-cache"


# --- facts the policy pack reads -----------------------------------------------------------------


def test_pool_and_cluster_declare_region_gpus_per_node_and_environment() -> None:
    result = plan_stack(stack_config("prod"))
    pool_tags = only(result, NODE_POOL).inputs["tags"]
    assert pool_tags == {REGION_TAG: "cn-beijing", GPUS_PER_NODE_TAG: "8", ENVIRONMENT_TAG: "prod"}
    assert only(result, CLUSTER).inputs["tags"] == {REGION_TAG: "cn-beijing", ENVIRONMENT_TAG: "prod"}


def test_custom_image_declares_its_kernel() -> None:
    custom = {"imageType": "Custom", "imageId": "m-alinux3-gpu", "kernelVersion": "5.10.134-16.al8"}
    pool = only(plan_stack(stack_config("prod", nodePool=custom)), NODE_POOL)
    assert pool.inputs["imageId"] == "m-alinux3-gpu"
    assert pool.inputs["tags"][KERNEL_VERSION_TAG] == "5.10.134-16.al8"


def test_nodes_prepare_the_cache_directory_for_the_alluxio_user() -> None:
    from ack_alluxio_training.node_pool import cache_directory_user_data

    script = base64.b64decode(cache_directory_user_data("/dev/shm/alluxio-cache")).decode()
    assert "d /dev/shm/alluxio-cache 0750 1000 1000 -" in script
    assert "systemd-tmpfiles --create" in script
