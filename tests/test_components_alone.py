"""Each component used alone, as a consumer's own unit test would use it: plain ``set_mocks``.

No project mock engine here: a minimal ``pulumi.runtime.Mocks`` that echoes inputs and records
every registration, exactly what a consumer writes. The components get only what a user knows
(datasets with size and file count, the node's GPUs, the cache quota, the jobs' reader threads)
and must register resources carrying the tuned values derived by the shared pure functions. The
upstream resources (an OSS bucket, a RAM key) answer the way a preview or a bare mock does:
unknown, or without their ``secret`` output at all.
"""

import math
from collections.abc import Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime import settings as runtime_settings
from pulumi_alicloud import oss, ram

from ack_alluxio_training import tuning
from ack_alluxio_training.alluxio_args import CacheDataset, DatasetProfile
from ack_alluxio_training.alluxio_cache import AlluxioCache
from ack_alluxio_training.alluxio_fuse import AlluxioFuse
from ack_alluxio_training.alluxio_inputs import ArgumentError
from ack_alluxio_training.training_job import TrainingJob

#: pulumi's wire sentinel for "not known until apply" (``pulumi.runtime.rpc.UNKNOWN``).
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
RELEASE = "kubernetes:helm.sh/v3:Release"
IMAGENET = DatasetProfile(name="imagenet", size_gib=144, file_count=1152)


class ConsumerMocks(pulumi.runtime.Mocks):
    """What a consumer writes: echo the inputs; a bucket's name and a key's secret are not returned."""

    def __init__(self, *, unknown: bool) -> None:
        self.unknown = unknown
        self.registered: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.registered.append(args)
        state = dict(args.inputs)
        if args.typ == "alicloud:oss/bucket:Bucket" and self.unknown:
            state["bucket"] = UNKNOWN
        if args.typ == "alicloud:ram/accessKey:AccessKey" and self.unknown:
            state["secret"] = UNKNOWN
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], None]:
        return {}, None

    def of_type(self, token: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.registered if r.typ == token]


def run_alone(program: Any, *, unknown: bool = False) -> ConsumerMocks:
    """Run ``program`` under plain set_mocks (a preview when ``unknown``) and wait for every registration."""
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]
    mocks = ConsumerMocks(unknown=unknown)
    pulumi.runtime.set_mocks(mocks, project="consumer", stack="test", preview=unknown)

    @pulumi.runtime.test  # type: ignore[misc]
    def body() -> pulumi.Output[Any]:
        return pulumi.Output.from_input(program())

    body()
    return mocks


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    yield
    runtime_settings.set_root_resource(None)  # type: ignore[arg-type]


def existing_bucket_dataset(profile: DatasetProfile) -> CacheDataset:
    """A dataset in a bucket the consumer's program creates, read with a key it creates."""
    bucket = oss.Bucket(f"{profile['name']}-bucket", bucket=f"team-{profile['name']}")
    key = ram.AccessKey(f"{profile['name']}-key", user_name="alluxio-reader")
    return CacheDataset(
        profile=profile,
        bucket=bucket.bucket,
        prefix="train",
        endpoint="oss-cn-beijing-internal.aliyuncs.com",
        access_key_id=pulumi.Output.secret(key.id),
        access_key_secret=pulumi.Output.secret(key.secret),
    )


def cache_program() -> Any:
    cache = AlluxioCache(
        "team-cache",
        {
            "datasets": [existing_bucket_dataset(IMAGENET)],
            "cache_nodes": 4,
            "tier": {"quota_per_node": "40Gi"},
            "kubeconfig": pulumi.Output.secret("apiVersion: v1\nkind: Config\n"),
        },
    )
    return cache.master_hostname


@pytest.mark.parametrize("unknown", [False, True], ids=["missing-secret", "preview-unknowns"])
def test_cache_alone_registers_the_tuned_release(unknown: bool) -> None:
    mocks = run_alone(cache_program, unknown=unknown)
    (release,) = mocks.of_type(RELEASE)
    values = release.inputs["values"]
    expected = tuning.tuned_client_properties(
        datasets=[tuning.DatasetMetadata("imagenet", 1152, 86400)],
        worker_list_refresh_seconds=600,
        avoid_eviction_reserved="512Mi",
    )
    for key, value in expected.items():  # rows 4-9, derived from the dataset's file count
        assert values["properties"][key] == value
    assert values["properties"][tuning.KEY_METADATA_CACHE_MAX_SIZE] == str(math.ceil(1152 * 1.1))
    assert "-XX:ActiveProcessorCount=8" in values["worker"]["jvmOptions"]  # row 11, the worker's 8 cpus
    assert values["tieredstore"]["levels"][0]["type"] == "hostPath"  # row 10
    assert values["tieredstore"]["levels"][0]["quota"] == str(40 * 2**30)  # row 13
    # the kubeconfig argument builds the component's own provider for the existing cluster
    assert [p.name for p in mocks.of_type("pulumi:providers:kubernetes")] == ["team-cache-kubernetes"]
    assert release.provider and "team-cache-kubernetes" in release.provider


def fuse_program() -> Any:
    fuse = AlluxioFuse(
        "team-fuse",
        {
            "namespace": "alluxio",
            "master_hostname": "alluxio-master-0.alluxio.svc",
            "datasets": [IMAGENET],
            "jobs": [{"reader_threads": 24, "workers": 4, "gpus_per_worker": 8}],
            "gpus_per_node": 8,
        },
    )
    return fuse.max_idle_threads


def test_fuse_alone_sizes_its_threads_from_the_jobs() -> None:
    (release,) = run_alone(fuse_program).of_type(RELEASE)
    fuse = release.inputs["values"]["fuse"]
    assert fuse["env"]["MAX_IDLE_THREADS"] == "24"  # row 3: 24 reader threads x 1 pod per 8-GPU node
    options = fuse["mountOptions"].split(",")
    assert {"entry_timeout=7200", "attr_timeout=7200", "kernel_cache", "ro"} <= set(options)  # row 2
    assert fuse["properties"][tuning.KEY_METADATA_CACHE_MAX_SIZE] == str(math.ceil(1152 * 1.1))  # row 7
    assert "-XX:ActiveProcessorCount=8" in fuse["jvmOptions"]  # row 11


def job_program() -> Any:
    return TrainingJob("resnet", {"job_name": "resnet", "reader_threads": 24}).job_name


def test_training_job_alone_needs_only_a_name() -> None:
    (job,) = run_alone(job_program).of_type("kubernetes:kubeflow.org/v2beta1:MPIJob")
    worker = job.inputs["spec"]["mpiReplicaSpecs"]["Worker"]
    pod = worker["template"]["spec"]
    container = pod["containers"][0]
    assert worker["replicas"] == 4
    assert str(container["resources"]["limits"]["nvidia.com/gpu"]) == "8"
    assert container["resources"]["requests"]["cpu"] == container["resources"]["limits"]["cpu"]  # row 12
    assert pod["tolerations"][0]["key"] == "ack-alluxio-training/gpu"


def test_a_refused_argument_names_it_and_registers_nothing() -> None:
    def program() -> Any:
        AlluxioCache(
            "bad",
            {"datasets": [existing_bucket_dataset(IMAGENET)], "cache_nodes": 4, "tier": {"quota_per_node": "lots"}},
        )
        return None

    with pytest.raises(ArgumentError, match=r"AlluxioCache 'bad': tier\.quota_per_node"):
        run_alone(program)
