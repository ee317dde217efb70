"""What a user tells the Alluxio components: the facts they know, shared by AlluxioCache and AlluxioFuse.

A consumer knows its datasets (size, file count, how often they change), its nodes (GPUs each) and
the cache it can afford (quota per node); every tuning row is derived from these by the pure
functions of ``tuning`` and ``alluxio_values``, the same ones the platform and the policy pack use.
Every field that is not required has the study's default (taken from the settings models, so the
defaults live in one place) and can be overridden.

This module holds only the argument types. It must not use ``from __future__ import annotations``,
and its TypedDicts are the standard library's: Pulumi's schema analyzer
(``pulumi.provider.experimental``) reads these annotations at run time to serve the components to
TypeScript, Go and YAML, and it recognises optional keys only on ``typing.TypedDict`` (with
``typing_extensions.TypedDict`` every field would become a required input). The docstring under
each field becomes the field's description in that schema. The component modules follow the
same two rules.
"""

from collections.abc import Mapping, Sequence
from typing import Required, TypedDict

import pulumi


class DatasetProfile(TypedDict, total=False):
    """What the tuning needs to know about one dataset (rows 2, 7 and 13)."""

    name: Required[str]
    """Short name (a DNS label); the first dataset is Alluxio's root, the others appear at /<name>."""
    size_gib: Required[float]
    """Dataset size in GiB; checked against the cache's capacity (row 13)."""
    file_count: Required[int]
    """Number of files; sizes the client metadata cache and the FUSE heap (row 7)."""
    read_only: bool
    """Training only reads it (default true): FUSE mounts with kernel_cache,ro (row 2)."""
    change_interval: str
    """How often the data changes, a duration such as 24h (default); the metadata cache expires after it (row 7)."""


class CacheDataset(TypedDict, total=False):
    """One dataset in an existing OSS bucket, as the cache mounts it."""

    profile: Required[DatasetProfile]
    """The dataset's size, file count and change interval (the same profile FUSE takes)."""
    bucket: Required[pulumi.Input[str]]
    """Name of the existing OSS bucket that holds the dataset."""
    prefix: str
    """Key prefix of the dataset inside the bucket (default: the whole bucket)."""
    endpoint: Required[pulumi.Input[str]]
    """OSS endpoint the cluster reaches the bucket through, e.g. oss-cn-beijing-internal.aliyuncs.com."""
    access_key_id: Required[pulumi.Input[str]]
    """Read-only access key id for the bucket; kept only in the credentials Secret (pass a Pulumi secret)."""
    access_key_secret: Required[pulumi.Input[str]]
    """Its secret; kept only in the credentials Secret (pass a Pulumi secret)."""


class CacheTierArgs(TypedDict, total=False):
    """The cache tier: one directory on every cache node that the workers fill and FUSE reads (rows 10, 13)."""

    medium: str
    """MEM (default; the tier is charged to the worker's memory) or SSD."""
    quota_per_node: str
    """Tier size on each cache node, a Kubernetes quantity (default 40Gi, as the study)."""
    host_path: str
    """Host directory of the tier (default /dev/shm/alluxio-cache); it must exist, owned by uid 1000."""
    high_watermark: float
    """Tier usage that starts eviction (default 0.95)."""
    low_watermark: float
    """Tier usage eviction stops at (default 0.7)."""


class ClientTuningArgs(TypedDict, total=False):
    """Overrides of the Alluxio client tuning (rows 4-9); the rest is derived from the datasets."""

    worker_list_refresh_interval: str
    """Row 8: how often clients refresh the worker list (default 10min; must exceed Alluxio's 2min)."""
    avoid_eviction_reserved: str
    """Row 4: space the avoid-eviction UFS read policy keeps free on a worker (default 512Mi)."""
    metadata_cache_headroom: float
    """Row 7: metadata cache entries per dataset file (default 1.1)."""
    overrides: Mapping[str, str]
    """Alluxio properties set after the derived ones, for what the derivation does not cover."""


class ContainerResources(TypedDict):
    """cpu and memory of one container; requests equal limits (rows 11-12)."""

    cpu: str
    """Kubernetes cpu quantity ('4', '3500m'); -XX:ActiveProcessorCount is it rounded up."""
    memory: str
    """Kubernetes memory quantity; the JVM's heap and direct memory are sized inside it."""


class CacheResources(TypedDict, total=False):
    """Resources of the four containers of the master/worker release (defaults: the study's)."""

    master: ContainerResources
    """The Alluxio master (default 4 cpu, 16Gi)."""
    job_master: ContainerResources
    """The job master (default 2 cpu, 4Gi)."""
    worker: ContainerResources
    """Each worker (default 8 cpu, 56Gi); a MEM tier is charged to it, so it must exceed the quota."""
    job_worker: ContainerResources
    """Each job worker (default 2 cpu, 4Gi)."""


class ReaderJob(TypedDict):
    """What FUSE needs to know about one training job to size its threads (row 3)."""

    reader_threads: int
    """Data reader threads per worker pod."""
    workers: int
    """Worker pods of the job."""
    gpus_per_worker: int
    """GPUs of each worker pod (bounds how many pods share a node)."""


class JournalArgs(TypedDict, total=False):
    """The master's journal volume."""

    storage_class: str
    """StorageClass of the journal PVC (default alicloud-disk-topology-alltype; ACK has no 'standard')."""
    size: str
    """Size of the journal PVC (default 20Gi; ACK cloud disks start there)."""


def profiles(datasets: Sequence[CacheDataset]) -> list[DatasetProfile]:
    """The profiles of the cache's datasets: what FUSE takes, so one list serves both components."""
    return [dataset["profile"] for dataset in datasets]
