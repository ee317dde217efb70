"""Instance facts: the table, the settings that derive and check node shapes from it, and the
deploy-time confirmation through the provider's ``getInstanceTypes`` invoke (mocked offline)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pulumi
import pytest
import yaml

from ack_alluxio_training import instance_lookup, instance_types, node_images
from ack_alluxio_training.offline.mock_engine import PlatformMocks, run_program
from ack_alluxio_training.offline.stack_config import STACKS_DIR, config_from_mapping, load_stack_config
from ack_alluxio_training.settings import PROJECT, SettingsError, settings_from_config

#: Rows whose vCPUs the source gives differently from the name's 4 x n.
VCPU_EXCEPTIONS = {"ecs.gn6v-c10g1.20xlarge": 82}


def test_the_table_covers_the_families_users_pick() -> None:
    assert {"gn6v", "gn6i", "gn6e", "gn7", "gn7i", "gn7e", "gn8is", "gn8v"} <= set(instance_types.known_families())


@pytest.mark.parametrize("name", sorted(instance_types.INSTANCE_SHAPES))
def test_each_row_agrees_with_its_name(name: str) -> None:
    shape = instance_types.INSTANCE_SHAPES[name]
    assert node_images.GPU_INSTANCE_TYPE.fullmatch(name)
    size = re.search(r"\.([0-9]*)xlarge$", name)
    assert size is not None
    expected_vcpus = VCPU_EXCEPTIONS.get(name, 4 * int(size.group(1) or 1))
    assert shape.vcpus == expected_vcpus, name
    multiple = re.search(r"-([0-9]+)x\.", name)
    if multiple:
        assert shape.gpus == int(multiple.group(1)), name
    assert 1 <= shape.gpus <= 16 and shape.memory_gib >= shape.vcpus and shape.gpu_memory_gb >= 16


def test_the_issue_example_is_one_a10() -> None:
    shape = instance_types.shape_of("ecs.gn7i-c32g1.8xlarge")
    assert shape is not None and shape.describe() == "1 x NVIDIA A10 (24 GB), 32 vCPUs, 188 GiB"


def prod_with_pool(**pool: Any) -> dict[str, Any]:
    raw: dict[str, Any] = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())["config"]
    raw[f"{PROJECT}:nodePool"] = pool
    return raw


def settings_of(raw: dict[str, Any]) -> Any:
    config = config_from_mapping("prod", raw)
    return settings_from_config(config.values, config.secret_keys)


def test_shape_is_derived_from_the_instance_type() -> None:
    settings = settings_of(prod_with_pool(name="gpu-v100", instanceTypes=["ecs.gn6v-c8g1.16xlarge"], desiredSize=4))
    pool = settings.node_pool
    assert (pool.gpus_per_node, pool.cpu_per_node, pool.memory_gib_per_node) == (8, 64, 256)


def test_a_declared_shape_must_match_the_type() -> None:
    pool = {"name": "gpu", "instanceTypes": ["ecs.gn7i-c32g1.8xlarge"], "gpusPerNode": 8, "desiredSize": 4}
    with pytest.raises(SettingsError, match=r"nodePool\.instanceTypes: .*gpusPerNode 8 \(the type has 1\)"):
        settings_of(prod_with_pool(**pool))


def test_a_job_that_cannot_fit_the_real_shape_is_refused() -> None:
    pool = {"name": "gpu", "instanceTypes": ["ecs.gn7i-c32g1.8xlarge"], "desiredSize": 4}
    with pytest.raises(SettingsError) as raised:
        settings_of(prod_with_pool(**pool))
    assert "jobs[0].gpusPerWorker: 8 exceeds nodePool.gpusPerNode 1" in str(raised.value)


def test_types_of_different_gpu_counts_are_refused() -> None:
    pool = {"name": "gpu", "instanceTypes": ["ecs.gn6v-c8g1.16xlarge", "ecs.gn6e-c12g1.12xlarge"], "desiredSize": 4}
    with pytest.raises(SettingsError, match="differ in GPUs per node"):
        settings_of(prod_with_pool(**pool))


def test_types_of_one_gpu_count_give_the_least_cpu_and_memory() -> None:
    pool = {"name": "gpu", "instanceTypes": ["ecs.gn6e-c12g1.24xlarge", "ecs.gn6v-c8g1.16xlarge"], "desiredSize": 4}
    node_pool = settings_of(prod_with_pool(**pool)).node_pool
    assert (node_pool.gpus_per_node, node_pool.cpu_per_node, node_pool.memory_gib_per_node) == (8, 64, 256)


def test_an_unknown_type_needs_a_declared_custom_shape() -> None:
    unknown = {"name": "gpu", "instanceTypes": ["ecs.gn9x.32xlarge"], "desiredSize": 4}
    with pytest.raises(SettingsError, match=r"nodePool\.instanceTypes: ecs\.gn9x\.32xlarge is not in the instance"):
        settings_of(prod_with_pool(**unknown))
    with pytest.raises(SettingsError, match="set gpusPerNode, cpuPerNode, memoryGibPerNode"):
        settings_of(prod_with_pool(**unknown, customInstanceTypes=True))
    declared = settings_of(prod_with_pool(**unknown, customInstanceTypes=True, gpusPerNode=8, cpuPerNode=128,
                                          memoryGibPerNode=1024))
    assert declared.node_pool.gpus_per_node == 8


def test_shape_problem_reads_the_cloud_answer() -> None:
    offered = [instance_lookup.OfferedShape(gpus=1, gpu_model="NVIDIA A10", vcpus=32, memory_gib=188.0)]
    assert instance_lookup.shape_problem("t", offered, 1, 32, 188) is None
    assert instance_lookup.shape_problem("t", offered, 1, 16, 100) is None, "a bigger node is fine"
    problem = instance_lookup.shape_problem("t", offered, 8, 64, 256)
    assert problem == "the cloud reports t with 1 GPU(s) (not 8), 32 vCPUs (fewer than 64), 188 GiB (less than 256)"
    assert "not offered" in str(instance_lookup.shape_problem("t", [], 1, 1, 1))


class AnsweringMocks(PlatformMocks):
    """The platform's mocks, but getInstanceTypes answers as told and every call is counted."""

    def __init__(self, answer: dict[str, Any] | None) -> None:
        self.answer = answer
        self.looked_up: list[str] = []

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        if args.token == instance_lookup.INVOKE_TOKEN:
            self.looked_up.append(str(args.args.get("instanceType")))
            if self.answer is not None:
                return copy.deepcopy(self.answer), []
        return super().call(args)


ONE_A10 = {"id": "x", "ids": ["t"], "instanceTypes": [
    {"id": "t", "cpuCoreCount": 32, "memorySize": 188.0, "gpus": [{"amount": "1", "category": "NVIDIA A10"}]}
]}


def test_deploying_confirms_each_type_with_the_provider_lookup() -> None:
    mocks = AnsweringMocks(None)  # the table's answer, as offline plans get it
    run_program(load_stack_config("prod"), mocks=mocks)
    assert mocks.looked_up == ["ecs.gn6v-c8g1.16xlarge"]


def test_a_cloud_shape_that_differs_stops_the_node_pool() -> None:
    reported = r"nodePool\.instanceTypes: the cloud reports ecs\.gn6v-c8g1\.16xlarge with 1 GPU"
    with pytest.raises(Exception, match=reported):
        run_program(load_stack_config("prod"), mocks=AnsweringMocks(ONE_A10))


def test_a_type_the_region_does_not_offer_stops_the_node_pool() -> None:
    with pytest.raises(Exception, match="is not offered in this region"):
        run_program(load_stack_config("prod"), mocks=AnsweringMocks({"id": "x", "ids": [], "instanceTypes": []}))


def test_the_lookup_can_be_turned_off() -> None:
    raw: dict[str, Any] = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())["config"]
    raw[f"{PROJECT}:nodePool"] = {**raw[f"{PROJECT}:nodePool"], "confirmInstanceTypes": False}
    mocks = AnsweringMocks(ONE_A10)
    run_program(config_from_mapping("prod", raw), mocks=mocks)
    assert mocks.looked_up == []
