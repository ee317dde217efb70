"""The pure tuning derivations (rows 2-13): examples from the study and properties that must hold."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ack_alluxio_training import tuning
from ack_alluxio_training.durations import duration_seconds
from ack_alluxio_training.quantities import memory_bytes

GIB = 2**30
MIB = 2**20


def _flag(options: list[str], name: str) -> str:
    """The value of ``-XX:<name>=v`` or ``-X<name>v`` in a JVM option list (the last one wins)."""
    found = [o for o in options if o.startswith(f"-XX:{name}=") or o.startswith(f"-X{name}")]
    assert found, f"{name} missing from {options}"
    return found[-1].removeprefix(f"-XX:{name}=").removeprefix(f"-X{name}")


def _size(value: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mg])", value).groups()  # type: ignore[union-attr]
    return int(number) * (MIB if unit == "m" else GIB)


# --- row 11: processors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "expected"), [("4", 4), ("3500m", 4), ("500m", 1), ("8", 8), (2.5, 3), ("1001m", 2), (1, 1)]
)
def test_active_processor_count_is_the_cpu_limit_rounded_up(cpu: str | float, expected: int) -> None:
    assert tuning.active_processor_count(cpu) == expected


@given(st.integers(min_value=1, max_value=512_000))
def test_jvm_cpu_options_agree_with_the_limit(millicores: int) -> None:
    options = tuning.jvm_cpu_options(f"{millicores}m")
    processors = int(_flag(options, "ActiveProcessorCount"))
    assert processors == math.ceil(millicores / 1000)
    assert int(_flag(options, "ParallelGCThreads")) == processors
    assert 1 <= int(_flag(options, "ConcGCThreads")) <= processors


def test_processor_count_refuses_non_quantities() -> None:
    with pytest.raises(ValueError):
        tuning.active_processor_count("four")
    with pytest.raises(ValueError):
        tuning.active_processor_count("0")


# --- row 11: memory ---------------------------------------------------------------------------


@given(
    limit_mib=st.integers(min_value=600, max_value=512 * 1024),
    reserved_mib=st.integers(min_value=0, max_value=256 * 1024),
)
def test_heap_and_direct_memory_fit_the_container(limit_mib: int, reserved_mib: int) -> None:
    budget = (limit_mib - reserved_mib) * MIB
    if budget < tuning.MIN_JVM_BUDGET_BYTES:
        with pytest.raises(ValueError):
            tuning.jvm_memory_options(f"{limit_mib}Mi", reserved_mib * MIB)
        return
    options = tuning.jvm_memory_options(f"{limit_mib}Mi", reserved_mib * MIB)
    heap, direct = _size(_flag(options, "mx")), _size(_flag(options, "MaxDirectMemorySize"))
    assert heap > 0 and direct > 0
    assert heap + direct <= budget


def test_worker_heap_leaves_the_mem_tier_alone() -> None:
    # The study's worker: 56Gi with a 40Gi MEM tier charged to it; the JVM gets the other 16Gi.
    heap, direct = tuning.jvm_heap_and_direct_bytes("56Gi", 40 * GIB)
    assert heap + direct <= 16 * GIB
    assert heap >= 8 * GIB


# --- row 3: FUSE threads ----------------------------------------------------------------------


def test_study_fuse_threads() -> None:
    # 4 Horovod workers of 8 GPUs on 8-GPU nodes: one worker per node, 16 reader threads each.
    jobs = [tuning.JobReaders(reader_threads_per_worker=16, workers=4, gpus_per_worker=8)]
    assert tuning.fuse_threads_for_jobs(jobs, gpus_per_node=8) == 16


def test_fuse_threads_count_every_worker_sharing_a_node() -> None:
    jobs = [tuning.JobReaders(reader_threads_per_worker=6, workers=8, gpus_per_worker=2)]
    assert tuning.training_workers_per_node(8, 2, 8) == 4
    assert tuning.fuse_threads_for_jobs(jobs, gpus_per_node=8) == 24


def test_fuse_threads_without_jobs_use_the_default() -> None:
    assert tuning.fuse_threads_for_jobs([], gpus_per_node=8) == tuning.DEFAULT_FUSE_MAX_IDLE_THREADS


def test_workers_per_node_refuses_jobs_that_do_not_fit() -> None:
    with pytest.raises(ValueError):
        tuning.training_workers_per_node(1, 16, 8)
    with pytest.raises(ValueError):
        tuning.fuse_max_idle_threads(0, 1)


@given(
    st.lists(st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 2, 4, 8])), min_size=1, max_size=5),
    st.sampled_from([8, 16]),
)
def test_fuse_threads_serve_every_job(jobs: list[tuple[int, int, int]], gpus_per_node: int) -> None:
    readers = [tuning.JobReaders(*job) for job in jobs]
    threads = tuning.fuse_threads_for_jobs(readers, gpus_per_node)
    for job in readers:
        per_node = job.reader_threads_per_worker * min(job.workers, gpus_per_node // job.gpus_per_worker)
        assert threads >= per_node
    assert threads in {
        j.reader_threads_per_worker * tuning.training_workers_per_node(j.workers, j.gpus_per_worker, gpus_per_node)
        for j in readers
    }


@pytest.mark.parametrize("version", [2, 3])
def test_thread_count_reaches_the_libfuse_in_use(version: int) -> None:
    env = tuning.fuse_idle_threads_env(version, 24)
    options = tuning.fuse_mount_options(
        entry_timeout_seconds=7200,
        attr_timeout_seconds=7200,
        read_only=True,
        libfuse_version=version,
        max_idle_threads=24,
    )
    if version == 2:
        assert env == {"MAX_IDLE_THREADS": "24"}
        assert not any(o.startswith("max_idle_threads") for o in options)
    else:
        assert env == {}
        assert "max_idle_threads=24" in options


def test_unknown_libfuse_is_refused() -> None:
    with pytest.raises(ValueError):
        tuning.fuse_idle_threads_env(4, 8)


# --- row 2: mount options ---------------------------------------------------------------------


def test_read_only_mount_options() -> None:
    options = tuning.fuse_mount_options(
        entry_timeout_seconds=7200,
        attr_timeout_seconds=3600,
        read_only=True,
        libfuse_version=2,
        max_idle_threads=16,
        extra=["max_read=131072"],
    )
    assert {"entry_timeout=7200", "attr_timeout=3600", "kernel_cache", "ro", "allow_other"} <= set(options)
    assert "direct_io" not in options
    assert options[-1] == "max_read=131072"


def test_writable_data_keeps_direct_io() -> None:
    options = tuning.fuse_mount_options(
        entry_timeout_seconds=600, attr_timeout_seconds=600, read_only=False, libfuse_version=2, max_idle_threads=8
    )
    assert "direct_io" in options
    assert "kernel_cache" not in options and "ro" not in options


# --- row 7: metadata cache --------------------------------------------------------------------


@given(st.integers(1, 50_000_000), st.floats(1.0, 10.0))
def test_metadata_cache_holds_every_file(files: int, headroom: float) -> None:
    size = tuning.metadata_cache_max_size(files, headroom)
    assert size >= files
    assert tuning.metadata_cache_heap_bytes(size) == size * tuning.METADATA_CACHE_BYTES_PER_ENTRY


def test_imagenet_jpeg_metadata_needs_gigabytes_of_heap() -> None:
    # 1.28M ImageNet JPEGs: ~1.41M entries x 4 KiB ~ 5.4 GiB, more than a 4Gi FUSE pod can give.
    entries = tuning.metadata_cache_max_size(1_281_167)
    assert tuning.metadata_cache_heap_bytes(entries) > 5 * GIB
    with pytest.raises(ValueError, match="give FUSE at least"):
        tuning.fuse_jvm_memory_options("4Gi", entries)
    options = tuning.fuse_jvm_memory_options("16Gi", entries)
    assert _size(_flag(options, "mx")) >= tuning.fuse_min_heap_bytes(entries)


@given(st.integers(1, 4_000_000), st.integers(2, 128))
def test_fuse_heap_is_enough_or_refused(entries: int, memory_gib: int) -> None:
    try:
        options = tuning.fuse_jvm_memory_options(f"{memory_gib}Gi", entries)
    except ValueError as exc:
        enough = int(re.search(r"at least (\d+)Gi", str(exc)).group(1))  # type: ignore[union-attr]
        assert enough > memory_gib
        tuning.fuse_jvm_memory_options(f"{enough}Gi", entries)  # the advice works
        return
    heap = _size(_flag(options, "mx"))
    assert _flag(options, "ms") == _flag(options, "mx")
    assert heap >= tuning.metadata_cache_heap_bytes(entries)
    assert heap + _size(_flag(options, "MaxDirectMemorySize")) <= memory_gib * GIB


def test_metadata_expiration_is_the_shortest_change_interval() -> None:
    # coco changes daily beside a weekly imagenet: a 7d expiration would serve coco stale for 6 days.
    assert tuning.metadata_cache_expiration_seconds([7 * 86400, 86400]) == 86400
    with pytest.raises(ValueError):
        tuning.metadata_cache_expiration_seconds([])


COCO = tuning.DatasetMetadata("coco", 123_287, 86400)
IMAGENET = tuning.DatasetMetadata("imagenet", 1_281_167, 7 * 86400)


def test_mixed_datasets_share_one_cache_sized_on_all_files_and_the_shortest_interval() -> None:
    cache = tuning.metadata_cache([IMAGENET, COCO])
    assert cache.max_size == tuning.metadata_cache_max_size(1_281_167 + 123_287)
    assert cache.expiration_seconds == 86400 and cache.shortest_interval_dataset == "coco"
    # The FUSE heap check sizes against the same entry count the property carries.
    assert cache.heap_bytes == tuning.metadata_cache_heap_bytes(cache.max_size)
    with pytest.raises(ValueError, match="give FUSE at least"):
        tuning.fuse_jvm_memory_options("8Gi", cache.max_size)


def test_a_metadata_cache_needs_a_dataset() -> None:
    with pytest.raises(ValueError, match="at least one dataset"):
        tuning.metadata_cache([])


@given(st.lists(st.tuples(st.integers(1, 10_000_000), st.integers(60, 90 * 86400)), min_size=1, max_size=6))
def test_no_dataset_is_cached_past_its_change_interval(datasets: list[tuple[int, int]]) -> None:
    described = [tuning.DatasetMetadata(f"d{i}", files, interval) for i, (files, interval) in enumerate(datasets)]
    cache = tuning.metadata_cache(described)
    assert all(cache.expiration_seconds <= d.change_interval_seconds for d in described)
    assert cache.expiration_seconds in {d.change_interval_seconds for d in described}
    assert cache.max_size >= sum(d.file_count for d in described)


# --- rows 4-9: client properties --------------------------------------------------------------


def _properties(**overrides: object) -> dict[str, str]:
    arguments: dict[str, object] = {
        "datasets": [tuning.DatasetMetadata("imagenet", 1152, 7 * 86400)],
        "worker_list_refresh_seconds": 600,
        "avoid_eviction_reserved": "512Mi",
    }
    arguments.update(overrides)
    return tuning.tuned_client_properties(**arguments)  # type: ignore[arg-type]


def test_client_properties_realise_rows_4_to_9() -> None:
    properties = _properties()
    assert set(properties) == set(tuning.CLIENT_PROPERTY_KEYS)
    policy = properties[tuning.KEY_UFS_READ_LOCATION_POLICY]
    assert policy == "alluxio.client.block.policy.LocalFirstAvoidEvictionPolicy"  # the full class name
    assert int(properties[tuning.KEY_AVOID_EVICTION_RESERVED_BYTES]) == 512 * MIB
    assert properties[tuning.KEY_PASSIVE_CACHE] == "false"
    assert properties[tuning.KEY_READ_TYPE] == "CACHE"
    assert properties[tuning.KEY_METADATA_CACHE_ENABLED] == "true"
    assert int(properties[tuning.KEY_METADATA_CACHE_MAX_SIZE]) >= 1152
    assert duration_seconds(properties[tuning.KEY_METADATA_CACHE_EXPIRATION]) == 7 * 86400
    assert duration_seconds(properties[tuning.KEY_WORKER_LIST_REFRESH]) == 600
    assert properties[tuning.KEY_ACCESS_TIME_UPDATES_DISABLED] == "true"


def test_client_properties_refuse_the_untuned() -> None:
    with pytest.raises(ValueError, match="2min"):
        _properties(worker_list_refresh_seconds=120)
    with pytest.raises(ValueError, match="row 4"):
        _properties(avoid_eviction_reserved="0")


@given(
    files=st.lists(st.integers(1, 10_000_000), min_size=1, max_size=4),
    intervals=st.lists(st.integers(60, 90 * 86400), min_size=4, max_size=4),
    refresh=st.integers(121, 86400),
    reserved_mib=st.integers(1, 64 * 1024),
)
def test_client_properties_are_always_consistent(
    files: list[int], intervals: list[int], refresh: int, reserved_mib: int
) -> None:
    datasets = [tuning.DatasetMetadata(f"d{i}", count, intervals[i]) for i, count in enumerate(files)]
    properties = _properties(
        datasets=datasets,
        worker_list_refresh_seconds=refresh,
        avoid_eviction_reserved=f"{reserved_mib}Mi",
    )
    assert int(properties[tuning.KEY_METADATA_CACHE_MAX_SIZE]) >= sum(files)
    assert duration_seconds(properties[tuning.KEY_METADATA_CACHE_EXPIRATION]) == min(intervals[: len(files)])
    assert duration_seconds(properties[tuning.KEY_WORKER_LIST_REFRESH]) > 120
    assert memory_bytes(properties[tuning.KEY_AVOID_EVICTION_RESERVED_BYTES]) > 0
    # Row 9 only works with row 7 on.
    assert properties[tuning.KEY_METADATA_CACHE_ENABLED] == "true"


# --- row 13: capacity -------------------------------------------------------------------------


def test_study_cache_holds_imagenet() -> None:
    assert tuning.cache_holds_dataset(40 * GIB, 4, 144 * GIB)
    assert tuning.cache_shortfall_message(40 * GIB, 4, 144 * GIB) is None


def test_shortfall_is_explained() -> None:
    message = tuning.cache_shortfall_message(40 * GIB, 3, 144 * GIB)
    assert message is not None
    assert "120.0 GiB" in message and "144.0 GiB" in message and "row 13" in message
