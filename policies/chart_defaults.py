"""The defaults of the official ``alluxio`` chart that decide behaviour when a release leaves a value out.

Helm merges a release's values over the chart's ``values.yaml``: maps merge key by key, lists and
scalars replace, and an explicit ``null`` deletes the default. A release with ``values: {}`` runs
every default, so a rule that reads only the release's own values would call a default "unset"
(the master's cpu request, for instance, is 1 core with a limit of 4 in chart 0.6.53). Every rule
reads values through :func:`chart_value`, which applies these defaults the way Helm does and says
where a value came from.

This is a maintained table of the few defaults the rules need, not a copy of the chart. Source:
``values.yaml`` of chart 0.6.53 (Alluxio 2.9; ``alluxio/helm-chart-0.6.53`` in the workplace's
reference folder). A release of another chart version is read with the nearest version's table,
and messages name the version whose default was applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NamedTuple

from ack_alluxio_training import versions
from ack_alluxio_training.policies.inputs import is_mapping


def _resources(request_cpu: str, request_memory: str, limit_cpu: str, limit_memory: str) -> dict[str, Any]:
    return {"requests": {"cpu": request_cpu, "memory": request_memory},
            "limits": {"cpu": limit_cpu, "memory": limit_memory}}


#: Chart 0.6.53 (values.yaml): only the keys a rule reads.
CHART_0_6_53: Final[Mapping[str, Any]] = {
    "fullnameOverride": "alluxio",
    "image": "alluxio/alluxio",
    "properties": {"alluxio.security.stale.channel.purge.interval": "365d"},
    "master": {"enabled": True, "count": 1, "hostNetwork": False,
               "resources": _resources("1", "1Gi", "4", "8Gi")},
    "jobMaster": {"resources": _resources("1", "1Gi", "4", "8Gi")},
    "worker": {"enabled": True, "hostNetwork": False, "resources": _resources("1", "2Gi", "4", "4Gi")},
    "jobWorker": {"resources": _resources("1", "1Gi", "4", "4Gi")},
    "tieredstore": {"levels": [{"level": 0, "alias": "MEM", "mediumtype": "MEM", "path": "/dev/shm",
                                "type": "emptyDir", "quota": "1Gi", "high": 0.95, "low": 0.7}]},
    "shortCircuit": {"enabled": True, "policy": "uuid", "volumeType": "persistentVolumeClaim"},
    "fuse": {"enabled": False, "hostNetwork": True, "hostPID": True, "mountOptions": "allow_other",
             "mountPoint": "/mnt/alluxio-fuse", "jvmOptions": ["-XX:MaxDirectMemorySize=2g"],
             "resources": _resources("0.5", "1Gi", "4", "4Gi")},
}

#: Tables by chart version; the pinned version first.
CHART_DEFAULTS: Final[Mapping[str, Mapping[str, Any]]] = {versions.ALLUXIO_CHART_VERSION: CHART_0_6_53}

_MISSING: Final = object()


class ChartValue(NamedTuple):
    """A value as the chart renders it, and whether it came from the chart's defaults."""

    value: Any
    #: The chart version whose default was applied, or None when the release set the value.
    default_of: str | None

    @property
    def from_default(self) -> bool:
        return self.default_of is not None


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) if part.isdigit() else 0 for part in version.split("."))


def table_version(chart_version: str | None) -> str:
    """The version of the defaults table used for a release of ``chart_version`` (the nearest known)."""
    if not chart_version:
        return versions.ALLUXIO_CHART_VERSION
    if chart_version in CHART_DEFAULTS:
        return chart_version
    wanted = _version_key(chart_version.lstrip("v"))
    return min(CHART_DEFAULTS, key=lambda known: (abs(_version_key(known)[-1] - wanted[-1])
                                                 if _version_key(known)[:-1] == wanted[:-1] else 10**6, known))


def _dig(node: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path``: ``_MISSING`` when a key is absent, None when it is set to null."""
    for key in path:
        if not is_mapping(node) or key not in node:
            return _MISSING
        node = node[key]
        if node is None:
            return None
    return node


def chart_value(values: Mapping[str, Any], chart_version: str | None, *path: str) -> ChartValue:
    """``values[path]`` as Helm renders it: the release's value, else the chart's default.

    An explicit null in the release deletes the default (Helm's rule), so it reads as None.
    """
    own = _dig(values, path)
    if own is not _MISSING:
        return ChartValue(own, None)
    version = table_version(chart_version)
    default = _dig(CHART_DEFAULTS[version], path)
    return ChartValue(None if default is _MISSING else default, version)


def described(origin: str, value: ChartValue) -> str:
    """A value's origin for messages: the values path, marked when the chart's default applied."""
    return f"{origin} (chart {value.default_of} default)" if value.from_default else origin
