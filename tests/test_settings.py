"""Stack settings: good stacks load with the tuned defaults; bad config names the key and value."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml

from ack_alluxio_training.offline.stack_config import STACKS_DIR, config_from_mapping, load_stack_config
from ack_alluxio_training.settings import PROJECT, PlatformSettings, SettingsError, settings_from_config


def stack_document(stack: str) -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    return config


def settings_for(raw: dict[str, Any], *, placeholder_secrets: bool = True) -> PlatformSettings:
    config = config_from_mapping("test", raw, placeholder_secrets=placeholder_secrets)
    return settings_from_config(config.values, config.secret_keys)


def with_change(stack: str, key: str, path: list[Any], value: Any) -> dict[str, Any]:
    """A copy of a stack's config with one nested value replaced (or removed when value is ...)."""
    raw = copy.deepcopy(stack_document(stack))
    target: Any = raw
    full_key = f"{PROJECT}:{key}"
    if not path:
        if value is ...:
            del raw[full_key]
        else:
            raw[full_key] = value
        return raw
    target = raw[full_key]
    for part in path[:-1]:
        target = target[part]
    if value is ...:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return raw


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_every_stack_validates(stack: str) -> None:
    config = load_stack_config(stack)
    settings = settings_from_config(config.values, config.secret_keys)
    assert settings.environment == stack
    assert settings.region == "cn-beijing"


def test_prod_is_the_studys_shape() -> None:
    settings = settings_for(stack_document("prod"))
    assert settings.node_pool.instance_types == ["ecs.gn6v-c8g1.16xlarge"]
    assert settings.node_pool.desired_size == 4 and settings.node_pool.gpus_per_node == 8
    assert settings.cache.quota_per_node == "40Gi"
    assert settings.datasets[0].size_gib == 144
    assert settings.jobs[0].gpus == 32 and settings.jobs[0].backend == "mpijob"
    assert settings.is_production and settings.warmup_enabled


def test_defaults_are_the_tuned_values() -> None:
    settings = settings_for(
        {
            f"{PROJECT}:environment": "dev",
            f"{PROJECT}:region": "cn-hangzhou",
            f"{PROJECT}:cluster": {"clusterId": "c123"},
            f"{PROJECT}:datasets": [{"name": "d", "bucket": "my-data", "sizeGib": 1, "fileCount": 10}],
        }
    )
    assert settings.node_pool.image_type == "AliyunLinux3"
    assert settings.fuse.entry_timeout_seconds >= 600 and settings.fuse.attr_timeout_seconds >= 600
    assert settings.alluxio.version == "2.9.5" and settings.alluxio.chart_version == "0.6.53"
    assert settings.cache.medium == "MEM"
    assert not settings.warmup_enabled


BAD_CASES = [
    # (description, stack, key, path, value, text the message must contain)
    ("unknown environment", "dev", "environment", [], "qa", "environment"),
    ("wrong type for desired size", "prod", "nodePool", ["desiredSize"], "four", "nodePool.desiredSize"),
    ("negative desired size", "prod", "nodePool", ["desiredSize"], -1, "nodePool.desiredSize"),
    ("negative dataset size", "prod", "datasets", [0, "sizeGib"], -5, "datasets[0].sizeGib"),
    ("zero files", "prod", "datasets", [0, "fileCount"], 0, "datasets[0].fileCount"),
    ("negative cache quota", "prod", "cache", ["quotaPerNode"], "-40Gi", "cache.quotaPerNode"),
    ("cache quota is not a quantity", "prod", "cache", ["quotaPerNode"], "forty gigs", "cache.quotaPerNode"),
    ("unknown backend", "prod", "jobs", [0, "backend"], "slurm", "jobs[0].backend"),
    ("unknown medium", "prod", "cache", ["medium"], "NVME", "cache.medium"),
    ("missing region", "prod", "region", [], ..., "region"),
    ("missing dataset bucket", "prod", "datasets", [0, "bucket"], ..., "datasets[0].bucket"),
    ("CentOS is below the kernel floor", "prod", "nodePool", ["imageType"], "CentOS", "nodePool"),
    ("Alinux 2 is end of life", "prod", "nodePool", ["imageType"], "AliyunLinux", "end-of-life"),
    ("ContainerOS on GPU", "prod", "nodePool", ["imageType"], "ContainerOS", "ContainerOS"),
    ("unknown image", "prod", "nodePool", ["imageType"], "Debian", "unknown image type"),
    ("non-GPU instance", "prod", "nodePool", ["instanceTypes"], ["ecs.g7.16xlarge"], "not GPU instance types"),
    ("unknown key", "prod", "nodePool", ["instanceCount"], 3, "nodePool.instanceCount"),
    ("cpu is not a quantity", "prod", "alluxio", ["worker", "cpu"], "lots", "alluxio.worker.cpu"),
    ("FUSE timeout below floor", "prod", "fuse", ["attrTimeoutSeconds"], 60, "attrTimeoutSeconds"),
    ("refresh not above 2min", "prod", "alluxio", ["client"], {"workerListRefreshInterval": "1min"}, "2min"),
    ("job on a missing dataset", "prod", "jobs", [0, "dataset"], "coco", "jobs[0].dataset"),
    ("too many GPUs per worker", "prod", "jobs", [0, "gpusPerWorker"], 16, "gpusPerWorker"),
    ("bad region", "prod", "region", [], "Beijing", "region"),
    ("worker memory below tier", "prod", "alluxio", ["worker", "memory"], "8Gi", "alluxio.worker.memory"),
    ("unsupported Alluxio", "prod", "alluxio", ["version"], "2.8.1", "alluxio.version"),
    ("dataset region mismatch", "prod", "datasets", [0, "region"], "cn-shanghai", "datasets[0].region"),
    ("adopt without cluster id", "dev", "cluster", ["clusterId"], ..., "clusterId"),
    ("bad bucket name", "prod", "datasets", [0, "bucket"], "Bad_Bucket", "datasets[0].bucket"),
    (
        "job does not fit a node",
        "prod",
        "jobs",
        [0, "resources"],
        {"cpu": "60", "memory": "120Gi"},
        "jobs[0].resources.cpu",
    ),
    ("tier larger than a node", "dev", "cache", ["quotaPerNode"], "64Gi", "cache.quotaPerNode"),
    ("structured value is not JSON", "prod", "nodePool", [], "{not json", "nodePool"),
]


@pytest.mark.parametrize(
    ("description", "stack", "key", "path", "value", "expected"), BAD_CASES, ids=[c[0] for c in BAD_CASES]
)
def test_bad_config_names_the_field(
    description: str, stack: str, key: str, path: list[Any], value: Any, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_for(with_change(stack, key, path, value))
    message = str(raised.value)
    assert expected in message, message
    assert f"{PROJECT}:" in message


def test_message_shows_the_bad_value_and_allowed_values() -> None:
    with pytest.raises(SettingsError) as raised:
        settings_for(with_change("prod", "jobs", [0, "backend"], "slurm"))
    message = str(raised.value)
    assert "'slurm'" in message and "'mpijob'" in message and "'tfjob'" in message


def test_refused_image_lists_the_allowed_ones() -> None:
    with pytest.raises(SettingsError) as raised:
        settings_for(with_change("prod", "nodePool", ["imageType"], "CentOS"))
    assert "AliyunLinux3" in str(raised.value)


def test_custom_image_needs_a_kernel_at_the_floor() -> None:
    custom = {"imageType": "Custom", "imageId": "m-123"}
    base = stack_document("prod")[f"{PROJECT}:nodePool"]
    with pytest.raises(SettingsError, match="declare its kernel"):
        settings_for(with_change("prod", "nodePool", [], {**base, **custom}))
    with pytest.raises(SettingsError, match="below the FUSE floor"):
        settings_for(with_change("prod", "nodePool", [], {**base, **custom, "kernelVersion": "4.14.0"}))
    settings = settings_for(with_change("prod", "nodePool", [], {**base, **custom, "kernelVersion": "5.10.134-16.al8"}))
    assert settings.node_pool.kernel_version == "5.10.134-16.al8"


def test_kernel_floor_is_a_setting() -> None:
    base = stack_document("prod")[f"{PROJECT}:nodePool"]
    with pytest.raises(SettingsError, match=r"below the FUSE floor 6\.0"):
        settings_for(with_change("prod", "nodePool", [], {**base, "kernelFloor": "6.0"}))


def test_provider_region_must_match() -> None:
    raw = stack_document("prod")
    raw["alicloud:region"] = "cn-hangzhou"
    with pytest.raises(SettingsError, match="alicloud:region"):
        settings_for(raw)


def test_secrets_must_be_secret_and_present() -> None:
    raw = stack_document("dev")
    with pytest.raises(SettingsError, match="kubeconfig"):
        settings_for(raw, placeholder_secrets=False)
    raw[f"{PROJECT}:kubeconfig"] = "apiVersion: v1"  # given in the clear
    with pytest.raises(SettingsError, match="must be set as a secret"):
        settings_for(raw, placeholder_secrets=False)


def test_existing_credentials_need_the_secret_keys() -> None:
    raw = with_change("prod", "datasets", [0, "credentials"], "existing")
    with pytest.raises(SettingsError, match="ossAccessKeyId"):
        settings_for(raw, placeholder_secrets=False)


def test_several_problems_are_reported_together() -> None:
    raw = with_change("prod", "nodePool", ["desiredSize"], -1)
    raw[f"{PROJECT}:environment"] = "qa"
    with pytest.raises(SettingsError) as raised:
        settings_for(raw)
    assert len(raised.value.problems) >= 2


def test_settings_never_hold_secret_values() -> None:
    config = load_stack_config("dev")
    settings = settings_from_config(config.values, config.secret_keys)
    dumped = settings.model_dump_json()
    assert "offline-placeholder-secret" not in dumped
