"""Resolve the Alluxio components' args: fill the study's defaults and check them like stack config.

The args of ``AlluxioCache`` and ``AlluxioFuse`` are partial (``alluxio_args``); this module
completes them through the very pydantic settings models the stack config goes through, so a
default or a check exists once, whether the values come from stack YAML (through the platform) or
from a consumer's program. A refused value raises :class:`ArgumentError` naming the component and
the argument path, before the component registers anything.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ack_alluxio_training import alluxio_values as av
from ack_alluxio_training import tuning
from ack_alluxio_training.alluxio_args import (
    CacheResources,
    CacheTierArgs,
    ClientTuningArgs,
    ContainerResources,
    DatasetProfile,
    ReaderJob,
)
from ack_alluxio_training.durations import DurationError, duration_seconds
from ack_alluxio_training.settings import (
    AlluxioClientSettings,
    AlluxioSettings,
    CacheSettings,
    FuseSettings,
    NodePoolSettings,
)

Model = TypeVar("Model", bound=BaseModel)


class ArgumentError(ValueError):
    """A component argument is refused; the message names the component, the argument and the rule."""


def _path(where: str, loc: Sequence[Any]) -> str:
    path = where
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def validated(model: type[Model], values: Mapping[str, Any], where: str) -> Model:
    """``values`` (snake_case, partial) checked and completed by a settings model, or ArgumentError."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as exc:
        problems = [
            f"{_path(where, item['loc'])}: {item['msg'].removeprefix('Value error, ')}"
            for item in exc.errors(include_url=False)
        ]
        raise ArgumentError("; ".join(problems)) from None


def cache_tier(tier: CacheTierArgs | None, where: str) -> CacheSettings:
    """The tier with defaults (MEM, 40Gi, /dev/shm/alluxio-cache, 0.95/0.7), checked as ``cache.*`` is."""
    return validated(CacheSettings, dict(tier or {}), where)


def check_profiles(datasets: Sequence[DatasetProfile], where: str) -> None:
    """At least one dataset, each with a positive size and file count and a readable change interval."""
    if not datasets:
        raise ArgumentError(f"{where}: give at least one dataset (the first becomes Alluxio's root mount)")
    for i, dataset in enumerate(datasets):
        at = f"{where}[{i}]"
        if float(dataset["size_gib"]) <= 0:
            raise ArgumentError(f"{at}.size_gib: must be positive (got {dataset['size_gib']!r})")
        if int(dataset["file_count"]) < 1:
            raise ArgumentError(f"{at}.file_count: a dataset has at least one file (got {dataset['file_count']!r})")
        interval = dataset.get("change_interval")
        if interval is not None:
            try:
                if duration_seconds(interval) <= 0:
                    raise ArgumentError(f"{at}.change_interval: must be positive (got {interval!r})")
            except DurationError as exc:
                raise ArgumentError(f"{at}.change_interval: {exc}") from None
    names = [d["name"] for d in datasets]
    if len(set(names)) != len(names):
        raise ArgumentError(f"{where}: dataset names must be distinct (got {names})")


def client_properties(
    datasets: Sequence[DatasetProfile], client: ClientTuningArgs | None, where: str
) -> dict[str, str]:
    """Rows 4-9 derived from the datasets, with the client overrides applied."""
    tuning_args = {k: v for k, v in (client or {}).items() if k != "overrides"}
    settings = validated(AlluxioClientSettings, tuning_args, where)
    overrides = (client or {}).get("overrides")
    return av.client_properties_for(datasets, settings, overrides)


def cache_resources(resources: CacheResources | None, where: str) -> av.CacheResources:
    """Resources of master, job master, worker and job worker, each defaulting to the study's."""
    alluxio = validated(AlluxioSettings, dict(resources or {}), where)

    def plain(container: Any) -> ContainerResources:
        return ContainerResources(cpu=container.cpu, memory=container.memory)

    return av.CacheResources(
        master=plain(alluxio.master),
        job_master=plain(alluxio.job_master),
        worker=plain(alluxio.worker),
        job_worker=plain(alluxio.job_worker),
    )


def alluxio_release(values: Mapping[str, Any], where: str) -> AlluxioSettings:
    """Namespace, versions and journal of a release, checked as ``alluxio.*`` is."""
    return validated(AlluxioSettings, values, where)


def fuse_settings(values: Mapping[str, Any], where: str) -> FuseSettings:
    """Mount point, timeouts, options, libfuse and resources of FUSE, checked as ``fuse.*`` is."""
    return validated(FuseSettings, values, where)


def default_gpus_per_node() -> int:
    """GPUs per node when a consumer does not say (the study's 8 x V100 nodes)."""
    default: int = NodePoolSettings.model_fields["gpus_per_node"].default
    return default


def fuse_threads(jobs: Sequence[ReaderJob], gpus_per_node: int, where: str) -> int:
    """Row 3: FUSE threads for the busiest job's reader threads on one node."""
    try:
        return tuning.fuse_threads_for_jobs(
            [tuning.JobReaders(int(j["reader_threads"]), int(j["workers"]), int(j["gpus_per_worker"])) for j in jobs],
            gpus_per_node,
        )
    except ValueError as exc:
        raise ArgumentError(f"{where}: {exc}") from None


def checked(where: str, check: Any, *args: Any) -> Any:
    """Run a pure check or derivation; its refusal becomes an ArgumentError naming the argument."""
    try:
        return check(*args)
    except ArgumentError:
        raise
    except ValueError as exc:
        raise ArgumentError(f"{where}: {exc}") from None
