"""Recognise an Alluxio deployment by what is deployed, and read its settings per component.

Two shapes deploy Alluxio: a Helm release of the official chart ``alluxio`` (a v3 ``Release`` or a
v4 ``Chart``; the chart may be named ``alluxio``, ``<repo>/alluxio``, ``oci://.../alluxio`` or
``.../alluxio-<version>.tgz``) and a Fluid ``AlluxioRuntime`` custom resource. Both are reduced to
the same view: which components run (master, jobMaster, worker, jobWorker, fuse) and, for each, the
properties and JVM options the process really starts with, its resources, env and network mode.

Effective values follow the order the processes read them, later winning: site-wide
``properties``, then ``-D`` flags in the site-wide ``jvmOptions``, then the component's own
``properties``, then ``-D`` flags in the component's own ``jvmOptions`` (the chart joins them
into one java opts line, in which a later ``-D`` wins). Everything is read lazily from the analyzer's proxies,
so a value unknown during preview only affects the rules that actually read it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final, NamedTuple

from ack_alluxio_training import versions
from ack_alluxio_training.policies.chart_defaults import ChartValue, chart_value, described
from ack_alluxio_training.policies.inputs import (
    as_flag,
    as_int,
    as_mapping,
    as_sequence,
    as_text,
    cached,
    dig,
    per_resource_reading,
    string_map,
)
from ack_alluxio_training.quantities import QuantityError, memory_bytes

HELM_RELEASE: Final = "kubernetes:helm.sh/v3:Release"
HELM_CHART: Final = "kubernetes:helm.sh/v4:Chart"
FLUID_GROUP: Final = "data.fluid.io"
FLUID_KIND: Final = "AlluxioRuntime"

MASTER: Final = "master"
JOB_MASTER: Final = "jobMaster"
WORKER: Final = "worker"
JOB_WORKER: Final = "jobWorker"
FUSE: Final = "fuse"
COMPONENTS: Final = (MASTER, JOB_MASTER, WORKER, JOB_WORKER, FUSE)

# How the chart renders a value a release leaves out: see ``chart_defaults`` (per chart version).
#: The job master and job worker run in the master's and worker's pods and share their network.
POD_OF: Final = {JOB_MASTER: MASTER, JOB_WORKER: WORKER}
CHART_TIER_TYPE_DEFAULT: Final = "emptyDir"
#: Fluid mounts a tier on a host path unless told otherwise.
FLUID_TIER_TYPE_DEFAULT: Final = "hostPath"

_CHART_ARCHIVE: Final = re.compile(
    r"^(?P<name>.+?)-\d+(?:\.\d+)*(?:[-+][0-9A-Za-z.-]+)?\.(?:tgz|tar\.gz)\Z", re.ASCII
)
_SYSTEM_PROPERTY: Final = re.compile(r"^-D([^=\s]+)=(.*)\Z", re.ASCII)
_SIZE: Final = re.compile(r"^(\d+(?:\.\d+)?)([A-Za-z]*)\Z", re.ASCII)
_SIZE_UNITS: Final = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30,
                      "t": 2**40, "tb": 2**40, "p": 2**50, "pb": 2**50}


def alluxio_size_bytes(text: str) -> int | None:
    """An Alluxio data size ("512MB", "1GB", "4096") in bytes; None when Alluxio would refuse it.

    Alluxio's units are binary and take no "i": "512Mi" (a Kubernetes quantity) fails to parse.
    """
    match = _SIZE.match(text.strip())
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


class Setting(NamedTuple):
    """A value together with where in the resource's inputs it was set (for messages)."""

    value: str
    origin: str


def chart_name(chart: str | None) -> str | None:
    """The chart's own name from how a release names it: repo/alluxio, oci://.../alluxio, a .tgz URL."""
    if not chart:
        return None
    reference = chart.strip()
    for prefix in ("oci://", "https://", "http://", "file://"):
        if reference.lower().startswith(prefix):
            reference = reference[len(prefix):]
            break
    reference = reference.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    last = reference.rsplit("/", 1)[-1]
    last = last.split("@", 1)[0]
    archive = _CHART_ARCHIVE.match(last)
    if archive:
        return archive.group("name")
    if ":" in last:
        last = last.split(":", 1)[0]
    return last or None


@lru_cache(maxsize=1024)
def is_alluxio_chart(chart: str | None) -> bool:
    """Whether a release's ``chart`` input names the official Alluxio chart."""
    return chart_name(chart) == versions.ALLUXIO_CHART_NAME


def system_properties(options: Sequence[Setting]) -> list[tuple[str, Setting]]:
    """``-Dkey=value`` flags among JVM options, in order."""
    found: list[tuple[str, Setting]] = []
    for option in options:
        match = _SYSTEM_PROPERTY.match(option.value.strip())
        if match:
            found.append((match.group(1), Setting(match.group(2), option.origin)))
    return found


def split_mount_options(text: str) -> list[str]:
    """FUSE ``-o`` options: comma separated, blanks dropped."""
    return [part.strip() for part in text.split(",") if part.strip()]


def mount_options_in_args(args: Sequence[str]) -> list[str]:
    """Mount options passed on a FUSE command line: ``-o a,b``, ``-oa,b``, ``--fuse-opts=a,b``."""
    found: list[str] = []
    expect_value = False
    for raw in args:
        arg = raw.strip()
        if expect_value:
            found += split_mount_options(arg)
            expect_value = False
        elif arg in ("-o", "--fuse-opts", "--mount-options"):
            expect_value = True
        elif arg.startswith("--fuse-opts=") or arg.startswith("--mount-options="):
            found += split_mount_options(arg.split("=", 1)[1])
        elif arg.startswith("-o="):
            found += split_mount_options(arg[3:])
        elif arg.startswith("-o") and len(arg) > 2:
            found += split_mount_options(arg[2:])
    return found


@dataclass(frozen=True)
class Tier:
    """One tiered-storage level of the worker cache."""

    index: int
    origin: str
    medium: str
    volume_type: str
    path: str
    quota_bytes: int | None
    quota_text: str | None


class SiteSettings:
    """The site-wide settings (``values``/``spec``) every component of a deployment starts from.

    Read once per deployment, when the first component needs them, in the order a component
    reads them (JVM options, then properties), so an unknown value surfaces at the same place.
    """

    def __init__(self, root: str, site: Mapping[str, Any], chart_version: str | None = None,
                 helm: bool = False) -> None:
        self.root = root
        self.site = site
        self.chart_version = chart_version
        self.helm = helm

    @cached
    def jvm_options(self) -> list[Setting]:
        origin = f"{self.root}.jvmOptions"
        return [Setting(text, origin) for text in _texts(as_mapping(self.site).get("jvmOptions"))]

    @cached
    def properties(self) -> dict[str, Setting]:
        """Site-wide properties, then the ``-D`` flags of the site-wide JVM options."""
        origin = f"{self.root}.properties"
        effective: dict[str, Setting] = {}
        if self.helm and self.site.get("properties", ...) is not None:  # Helm merges the chart's map under ours
            default = chart_value({}, self.chart_version, "properties")
            effective.update((str(key), Setting(text, described(origin, default)))
                             for key, text in _text_items(default.value))
        effective.update((str(key), Setting(text, origin)) for key, text in _text_items(self.site.get("properties")))
        effective.update(system_properties(self.jvm_options))
        return effective


def _texts(value: Any) -> list[str]:
    """The scalar items of a list, as text (others skipped)."""
    return [text for text in map(as_text, as_sequence(value)) if text is not None]


def _text_items(value: Any) -> list[tuple[Any, str]]:
    """The scalar entries of a mapping, as text (others skipped)."""
    return [(key, text) for key, item in as_mapping(value).items() if (text := as_text(item)) is not None]


@dataclass
class Component:
    """One Alluxio process of a deployment, read lazily from the deployment's inputs."""

    name: str
    #: Where the component's own settings live ("values.fuse", "spec.worker").
    section: str
    #: Where the site-wide settings live ("values", "spec").
    root: str
    settings: Mapping[str, Any]
    site: Mapping[str, Any]
    host_network_default: bool
    fluid: bool = False
    #: The chart version of a Helm deployment, whose defaults apply to values left out.
    chart_version: str | None = None
    #: Read from rendered objects (a ConfigMap's java opts): defaults are already applied.
    rendered: bool = False
    #: The deployment's site-wide settings, shared by its components (made here when not given).
    shared: SiteSettings | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._charts: dict[tuple[str, ...], ChartValue] = {}
        if self.shared is None:
            self.shared = SiteSettings(self.root, self.site, self.chart_version, not (self.fluid or self.rendered))

    def chart(self, *path: str) -> ChartValue:
        """A value of this component's section as the process gets it (chart defaults applied for Helm).

        Remembered per path: the rules ask for the same few values (resources, jvmOptions) many times.
        """
        found = self._charts.get(path)
        if found is None:
            if self.fluid or self.rendered:
                found = ChartValue(dig(self.settings, *path), None)
            else:
                found = chart_value(self.site, self.chart_version, self.name, *path)
            self._charts[path] = found
        return found

    def origin(self, *path: str) -> str:
        """Where a value of this component comes from, for messages (marked when it is the chart's default)."""
        return described(".".join((self.section, *path)), self.chart(*path))

    @property
    def _site(self) -> SiteSettings:
        assert self.shared is not None
        return self.shared

    @cached
    def own_jvm_options(self) -> list[Setting]:
        options = self.chart("jvmOptions")
        origin = described(f"{self.section}.jvmOptions", options)
        return [Setting(text, origin) for text in _texts(options.value)]

    @cached
    def jvm_options(self) -> list[Setting]:
        """JVM options in the order the JVM reads them: site-wide first, then the component's."""
        site = self._site.jvm_options
        return [*site, *self.own_jvm_options]

    @cached
    def properties(self) -> dict[str, Setting]:
        """The Alluxio properties the process starts with, each with the place that set it."""
        self.jvm_options  # noqa: B018 - read first (site-wide, then own), as the JVM does
        effective = dict(self._site.properties)
        origin = f"{self.section}.properties"
        for key, text in _text_items(self.settings.get("properties")):
            effective[str(key)] = Setting(text, origin)
        effective.update(system_properties(self.own_jvm_options))
        return effective

    def property(self, key: str) -> Setting | None:
        """One effective property, or None when the process runs with Alluxio's default."""
        return self.properties.get(key)

    def jvm_flag(self, prefix: str) -> Setting | None:
        """The last JVM option starting with ``prefix`` (the JVM keeps the last one)."""
        found = None
        for option in self.jvm_options:
            if option.value.strip().startswith(prefix):
                found = option
        return found

    def resource(self, kind: str, name: str) -> str | None:
        """``resources.<kind>.<name>``, e.g. ("limits", "cpu"), the chart's default when left out."""
        return as_text(self.chart("resources", kind, name).value)

    def resource_origin(self, kind: str, name: str) -> str:
        """Where ``resources.<kind>.<name>`` comes from (the values path, or the chart's default)."""
        return self.origin("resources", kind, name)

    @cached
    def env(self) -> dict[str, str]:
        return string_map(self.settings.get("env"))

    @cached
    def host_network(self) -> bool:
        """Whether the pods share the node's network (Fluid: networkMode; chart: hostNetwork)."""
        if self.fluid:
            mode = as_text(self.settings.get("networkMode")) or ""
            return mode in ("", "HostNetwork")
        flag = as_flag(chart_value(self.site, self.chart_version, POD_OF.get(self.name, self.name),
                                   "hostNetwork").value)
        return self.host_network_default if flag is None else flag

    @cached
    def host_network_origin(self) -> str:
        return f"{self.section}.networkMode" if self.fluid else f"{self.section}.hostNetwork"

    @cached
    def node_selector(self) -> dict[str, str]:
        """Node labels the component's pods require (its own selector, else the site-wide one)."""
        own = string_map(self.settings.get("nodeSelector"))
        return own or string_map(self.site.get("nodeSelector"))


@dataclass
class AlluxioDeployment:
    """One deployed Alluxio: a Helm release of the official chart or a Fluid AlluxioRuntime."""

    source: str
    root: str
    top: Mapping[str, Any]
    namespace: str
    name: str
    fluid: bool
    running: tuple[str, ...]
    #: The chart version of a Helm deployment (None: Fluid, or a release that names none).
    chart_version: str | None = None
    #: Read from rendered objects (a ConfigMap's java opts): defaults are already applied.
    rendered: bool = False

    def chart(self, *path: str) -> ChartValue:
        """A site-wide value as the chart renders it (chart defaults applied for Helm)."""
        if self.fluid or self.rendered:
            return ChartValue(dig(self.top, *path), None)
        return chart_value(self.top, self.chart_version, *path)

    @cached
    def components(self) -> dict[str, Component]:
        result: dict[str, Component] = {}
        shared = SiteSettings(self.root, self.top, self.chart_version, not (self.fluid or self.rendered))
        for name in self.running:
            result[name] = Component(
                name=name,
                section=f"{self.root}.{name}",
                root=self.root,
                settings=as_mapping(self.top.get(name)),
                site=self.top,
                host_network_default=name == FUSE,
                fluid=self.fluid,
                chart_version=self.chart_version,
                rendered=self.rendered,
                shared=shared,
            )
        return result

    def runs(self, component: str) -> bool:
        return component in self.running

    @property
    def client_components(self) -> list[Component]:
        """Processes that act as Alluxio clients of the training data (rows 4-9).

        The FUSE process serves the training reads; the job workers run loads and warm-ups for
        the master/worker release. Both must carry the client tuning.
        """
        return [self.components[name] for name in (FUSE, JOB_WORKER) if name in self.running]

    @cached
    def fuse_mount_options(self) -> dict[str, Setting]:
        """FUSE ``-o`` options by name (value "" for flags); command-line options win over properties."""
        fuse = self.components.get(FUSE)
        if fuse is None:
            return {}
        ordered: list[tuple[str, str]] = []
        configured = fuse.property("alluxio.fuse.mount.options")
        if configured is not None:
            ordered += [(option, configured.origin) for option in split_mount_options(configured.value)]
        if not self.fluid:
            options = fuse.chart("mountOptions").value
            origin = fuse.origin("mountOptions")
            if isinstance(options, str):
                ordered += [(option, origin) for option in split_mount_options(options)]
            else:
                for item in as_sequence(options):
                    text = as_text(item)
                    if text:
                        ordered += [(option, origin) for option in split_mount_options(text)]
        args = [text for text in (as_text(a) for a in as_sequence(fuse.settings.get("args"))) if text is not None]
        ordered += [(option, f"{fuse.section}.args") for option in mount_options_in_args(args)]
        result: dict[str, Setting] = {}
        for option, origin in ordered:
            key, _, value = option.partition("=")
            result[key.strip()] = Setting(value.strip(), origin)
        return result

    @cached
    def tiers(self) -> list[Tier]:
        """The worker's tiered-storage levels (the chart's single emptyDir MEM level when unset)."""
        configured = self.chart("tieredstore", "levels")
        levels = as_sequence(configured.value)
        origin_base = described(f"{self.root}.tieredstore.levels", configured)
        tiers: list[Tier] = []
        for index, raw in enumerate(levels):
            level = as_mapping(raw)
            if self.fluid:
                volume_type = as_text(level.get("volumeType")) or FLUID_TIER_TYPE_DEFAULT
                quota_text = as_text(level.get("quota")) or as_text(level.get("quotaList"))
            else:
                volume_type = as_text(level.get("type")) or CHART_TIER_TYPE_DEFAULT
                quota_text = as_text(level.get("quota"))
            tiers.append(
                Tier(
                    index=index,
                    origin=origin_base.replace(".levels", f".levels[{index}]", 1),
                    medium=as_text(level.get("mediumtype")) or as_text(level.get("alias")) or "",
                    volume_type=volume_type,
                    path=as_text(level.get("path")) or "",
                    quota_bytes=_quota_bytes(quota_text),
                    quota_text=quota_text,
                )
            )
        return tiers

    @property
    def cache_bytes_per_worker(self) -> int | None:
        """Cache one worker holds: the sum of its tiers' quotas (None when one is unreadable)."""
        total = 0
        for tier in self.tiers:
            if tier.quota_bytes is None:
                return None
            total += tier.quota_bytes
        return total

    @property
    def fluid_worker_replicas(self) -> int | None:
        """Workers of a Fluid runtime (``spec.replicas``, Fluid's default 1)."""
        if not self.fluid:
            return None
        replicas = as_int(self.top.get("replicas"))
        return 1 if replicas is None else replicas


def _quota_bytes(text: str | None) -> int | None:
    """A tier quota ("40Gi", "42949672960", "40GB", multi-part "10Gi,30Gi") in bytes.

    The chart hands the quota both to Kubernetes (an emptyDir's sizeLimit) and to Alluxio, so both
    notations occur: a Kubernetes quantity first, else an Alluxio size (binary units, "GB").
    """
    if text is None:
        return None
    total = 0
    for raw in text.split(","):
        part = raw.strip()
        try:
            total += memory_bytes(part)
        except QuantityError:
            size = alluxio_size_bytes(part)
            if size is None:
                return None
            total += size
    return total


def _helm_running(values: Mapping[str, Any]) -> tuple[str, ...]:
    """Components a release of the chart deploys, from its enabled flags (chart defaults applied)."""
    running: list[str] = []
    master = as_flag(dig(values, MASTER, "enabled"))
    worker = as_flag(dig(values, WORKER, "enabled"))
    fuse = as_flag(dig(values, FUSE, "enabled"))
    if master is not False:
        running += [MASTER, JOB_MASTER]
    if worker is not False:
        running += [WORKER, JOB_WORKER]
    if fuse is True:
        running.append(FUSE)
    return tuple(running)


def _fluid_running(spec: Mapping[str, Any]) -> tuple[str, ...]:
    """A Fluid runtime always has a master, workers and FUSE; ``enabled: false`` drops a part."""
    running: list[str] = []
    for name in COMPONENTS:
        if as_flag(dig(spec, name, "enabled")) is not False:
            running.append(name)
    return tuple(running)


def is_fluid_runtime(resource_type: str) -> bool:
    """Whether a type token is a Fluid AlluxioRuntime (any API version)."""
    parts = resource_type.split(":")
    return (
        len(parts) == 3
        and parts[0] == "kubernetes"
        and parts[1].split("/", 1)[0] == FLUID_GROUP
        and parts[2] == FLUID_KIND
    )


def could_be_alluxio(resource_type: str) -> bool:
    """Type filter for rules about Alluxio deployments (the chart name is checked afterwards)."""
    return resource_type in (HELM_RELEASE, HELM_CHART) or is_fluid_runtime(resource_type)


@per_resource_reading("chart", "values", "namespace", "name", "version", "spec", "metadata")
def alluxio_deployment(
    resource_type: str, props: Mapping[str, Any], resource_name: str = ""
) -> AlluxioDeployment | None:
    """The Alluxio deployment a resource describes, or None when it deploys something else."""
    if resource_type in (HELM_RELEASE, HELM_CHART):
        if not is_alluxio_chart(as_text(props.get("chart"))):
            return None
        values = as_mapping(props.get("values"))
        kind = "Helm release" if resource_type == HELM_RELEASE else "Helm chart"
        return AlluxioDeployment(
            source=kind,
            root="values",
            top=values,
            namespace=as_text(props.get("namespace")) or "default",
            name=as_text(props.get("name")) or resource_name,
            fluid=False,
            running=_helm_running(values),
            chart_version=as_text(props.get("version")),
        )
    if is_fluid_runtime(resource_type):
        spec = as_mapping(props.get("spec"))
        metadata = as_mapping(props.get("metadata"))
        return AlluxioDeployment(
            source="Fluid AlluxioRuntime",
            root="spec",
            top=spec,
            namespace=as_text(metadata.get("namespace")) or "default",
            name=as_text(metadata.get("name")) or resource_name,
            fluid=True,
            running=_fluid_running(spec),
        )
    return None


def helm_runs_embedded_fuse(props: Mapping[str, Any]) -> bool:
    """Whether a chart release embeds FUSE in its (then privileged) workers: ``worker.fuseEnabled``."""
    return as_flag(dig(props.get("values"), WORKER, "fuseEnabled")) is True
