"""Guardrails on Alluxio deployments (chart values and Fluid AlluxioRuntime): tuning rows 4-12.

Rows 4-9 are client properties. The client that matters is the FUSE process, which serves every
training read; the job workers of the master/worker release load and warm the cache and are
clients too. So each property rule checks every client process a deployment runs, with the value
that process really starts with (see ``alluxio_deployments``). Rules on properties offer a
remediation: at the ``remediate`` level the engine rewrites the deployment to the tuned value
(set once in the site-wide ``properties``, overrides removed), exactly as the components would.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
)
from pulumi_policy.deserialize import serialize_properties

from ack_alluxio_training import tuning
from ack_alluxio_training.durations import DurationError, duration_seconds
from ack_alluxio_training.policies.alluxio_deployments import (
    COMPONENTS,
    FUSE,
    MASTER,
    WORKER,
    AlluxioDeployment,
    Component,
    Setting,
    alluxio_deployment,
    alluxio_size_bytes,
    could_be_alluxio,
)
from ack_alluxio_training.policies.alluxio_manifests import (
    is_config_map,
    is_workload_type,
    rendered_by_v4_chart,
    rendered_client_configuration,
    rendered_components,
)
from ack_alluxio_training.policies.chart_defaults import described
from ack_alluxio_training.policies.guardrails import WHOLE_CORES_CONFIG, Guardrail, ResourceGuardrail, any_of
from ack_alluxio_training.policies.inputs import as_flag, as_int, as_text, show
from ack_alluxio_training.quantities import QuantityError, memory_bytes

SECRET_SIGNATURE_KEY: Final = "4dabf18193072939515e22adb298388d"
ACTIVE_PROCESSOR_COUNT_FLAG: Final = "-XX:ActiveProcessorCount="
_JVM_SIZE: Final = re.compile(r"^(\d+)([kKmMgGtT]?)\Z", re.ASCII)


def jvm_size_bytes(text: str) -> int | None:
    """A JVM heap size ("16g", "512m", "1048576") in bytes."""
    match = _JVM_SIZE.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)) * {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}[match.group(2).lower()]


def rendered_configuration_of(args: ResourceValidationArgs) -> AlluxioDeployment | None:
    """The client settings of a rendered Alluxio ConfigMap (not a v4 Chart's child: its values are read)."""
    if rendered_by_v4_chart(args.opts.parent):
        return None
    return rendered_client_configuration(args.resource_type, args.props, args.name)


def deployment_of(args: ResourceValidationArgs) -> AlluxioDeployment | None:
    """The Alluxio deployment of the resource being validated, if it is one."""
    return alluxio_deployment(args.resource_type, args.props, args.name)


def where(deployment: AlluxioDeployment, component: Component | None = None) -> str:
    """How a message names a deployment (and one of its processes)."""
    label = f"{deployment.source} {deployment.name!r}"
    return f"{label}, {component.name}" if component is not None else label


def shown(setting: Setting | None) -> str:
    """A property as the message shows it: the value and the place that set it."""
    if setting is None:
        return "unset"
    return f"{setting.value!r} (from {setting.origin})"


# --- remediation: rewrite a deployment's settings the way the components would write them ------


def _revealed(node: Any) -> Any:
    """The plain value inside a serialized secret wrapper (edits inside it stay secret)."""
    if isinstance(node, MutableMapping) and SECRET_SIGNATURE_KEY in node and "value" in node:
        return _revealed(node["value"])
    return node


def _writable_root(plain: MutableMapping[str, Any], deployment: AlluxioDeployment) -> MutableMapping[str, Any]:
    root = _revealed(plain.get(deployment.root))
    if isinstance(root, MutableMapping):
        return root
    fresh: dict[str, Any] = {}
    plain[deployment.root] = fresh
    return fresh


def _section(root: MutableMapping[str, Any], name: str) -> MutableMapping[str, Any] | None:
    node = _revealed(root.get(name))
    return node if isinstance(node, MutableMapping) else None


def _drop_system_property(options: Any, key: str) -> Any:
    if not isinstance(options, list):
        return options
    return [o for o in options if not (isinstance(o, str) and o.strip().startswith(f"-D{key}="))]


def set_site_property(root: MutableMapping[str, Any], key: str, value: str) -> None:
    """Set a property once, site-wide, and remove every override that would beat it."""
    properties = _revealed(root.get("properties"))
    if not isinstance(properties, MutableMapping):
        properties = {}
        root["properties"] = properties
    properties[key] = value
    root["jvmOptions"] = _drop_system_property(root.get("jvmOptions"), key)
    if root["jvmOptions"] is None:
        del root["jvmOptions"]
    for name in COMPONENTS:
        section = _section(root, name)
        if section is None:
            continue
        own = _revealed(section.get("properties"))
        if isinstance(own, MutableMapping):
            own.pop(key, None)
        if "jvmOptions" in section:
            section["jvmOptions"] = _drop_system_property(section.get("jvmOptions"), key)


PropertyFix = Callable[[AlluxioDeployment, Component, Mapping[str, Any]], dict[str, str]]


def property_remediation(fix: PropertyFix) -> Callable[[ResourceValidationArgs], Mapping[str, Any] | None]:
    """A remediation that writes the tuned properties ``fix`` returns for each client process."""

    def remediate(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
        deployment = deployment_of(args)
        if deployment is None:
            return None
        config = args.get_config()
        wanted: dict[str, str] = {}
        for component in deployment.client_components:
            wanted.update(fix(deployment, component, config))
        if not wanted:
            return None
        plain = copy.deepcopy(dict(serialize_properties(args.props)))
        root = _writable_root(plain, deployment)
        for key, value in wanted.items():
            set_site_property(root, key, value)
        return plain

    return remediate


def client_checks(
    check: Callable[[AlluxioDeployment, Component, Mapping[str, Any]], Iterator[str]],
) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
    """A validation that runs ``check`` on every client process of an Alluxio deployment."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        deployment = deployment_of(args) or rendered_configuration_of(args)
        if deployment is None:
            return
        config = args.get_config()
        # One finding per problem, naming every client process that starts with it: a site-wide
        # property read by FUSE and the job workers alike is one mistake, not two.
        readers: dict[str, list[str]] = {}
        for component in deployment.client_components:
            for problem in check(deployment, component, config):
                readers.setdefault(problem, []).append(CLIENT_ROLES.get(component.name, component.name))
        for problem, roles in readers.items():
            report(f"{where(deployment)} ({' and '.join(roles)}): {problem}", None)

    return validate


#: What the client rules read: deployments, and the java opts of a rendered chart's ConfigMap.
CLIENT_TYPES: Final = any_of(could_be_alluxio, is_config_map)
#: How a finding names the client process it is about (rows 4-9).
CLIENT_ROLES: Final = {FUSE: "the FUSE client", "jobWorker": "the job workers, which load the cache as clients"}
#: Where rows 4-9 must be set, for remediation texts.
CLIENT_RELEASES: Final = (
    "in the properties of every Alluxio release that runs a client (the FUSE release; the master/worker release for "
    "its job workers; Fluid: spec.properties)"
)


# --- row 4: UFS reads avoid evicting cached blocks -----------------------------------------


def _eviction_problems(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> Iterator[str]:
    policy = component.property(tuning.KEY_UFS_READ_LOCATION_POLICY)
    if policy is None or policy.value.strip() != tuning.AVOID_EVICTION_POLICY_CLASS:
        hint = ""
        if policy is not None and policy.value.strip().endswith("LocalFirstAvoidEvictionPolicy"):
            hint = " (Alluxio loads the class by its full name)"
        yield (f"{tuning.KEY_UFS_READ_LOCATION_POLICY} is {shown(policy)}; set it to "
               f"{tuning.AVOID_EVICTION_POLICY_CLASS}{hint}")
    reserved = component.property(tuning.KEY_AVOID_EVICTION_RESERVED_BYTES)
    size = alluxio_size_bytes(reserved.value) if reserved is not None else None
    if size is None or size <= 0:
        problem = "not an Alluxio size such as '512MB'" if reserved is not None and size is None else "not above 0"
        yield f"{tuning.KEY_AVOID_EVICTION_RESERVED_BYTES} is {shown(reserved)}, {problem}"


def _eviction_fix(_: AlluxioDeployment, component: Component, config: Mapping[str, Any]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    policy = component.property(tuning.KEY_UFS_READ_LOCATION_POLICY)
    if policy is None or policy.value.strip() != tuning.AVOID_EVICTION_POLICY_CLASS:
        wanted[tuning.KEY_UFS_READ_LOCATION_POLICY] = tuning.AVOID_EVICTION_POLICY_CLASS
    reserved = component.property(tuning.KEY_AVOID_EVICTION_RESERVED_BYTES)
    size = alluxio_size_bytes(reserved.value) if reserved is not None else None
    if size is None or size <= 0:
        wanted[tuning.KEY_AVOID_EVICTION_RESERVED_BYTES] = str(config.get("reservedSize") or "512MB")
    return wanted


UFS_READ_AVOIDS_EVICTION = ResourceGuardrail(
    name="alluxio-ufs-read-avoids-eviction",
    description=(
        "Tuning row 4: UFS reads must go through LocalFirstAvoidEvictionPolicy with reserved space above 0, "
        "so a cold read never evicts blocks other training readers are about to hit."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        f"Set {tuning.KEY_UFS_READ_LOCATION_POLICY}={tuning.AVOID_EVICTION_POLICY_CLASS} (the full class name) and "
        f"{tuning.KEY_AVOID_EVICTION_RESERVED_BYTES} to an Alluxio size above 0 (e.g. 512MB) {CLIENT_RELEASES}; "
        "stacks of this project: ack-alluxio-training:alluxio.client.avoidEvictionReserved."
    ),
    applies_to=CLIENT_TYPES,
    validate=client_checks(_eviction_problems),
    remediate=property_remediation(_eviction_fix),
    rows=(4,),
    config_schema=PolicyConfigSchema(
        properties={"reservedSize": {"type": "string", "default": "512MB",
                                     "pattern": r"^\d+(\.\d+)?([kKmMgGtTpP][bB]?)?$",
                                     "description": "Reserved size the remediation writes (an Alluxio size)."}},
    ),
    tags=("alluxio", "client"),
)


# --- row 5: no passive caching ---------------------------------------------------------------


def _passive_problems(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> Iterator[str]:
    setting = component.property(tuning.KEY_PASSIVE_CACHE)
    if setting is None or setting.value.strip().lower() != "false":
        yield (f"{tuning.KEY_PASSIVE_CACHE} is {shown(setting)}; set it to 'false' (Alluxio's default true "
               "copies remote blocks into the local worker on every read)")


def _passive_fix(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> dict[str, str]:
    setting = component.property(tuning.KEY_PASSIVE_CACHE)
    if setting is not None and setting.value.strip().lower() == "false":
        return {}
    return {tuning.KEY_PASSIVE_CACHE: "false"}


NO_PASSIVE_CACHE = ResourceGuardrail(
    name="alluxio-no-passive-cache",
    description=(
        "Tuning row 5: passive caching must be off, because with it every remote read makes a second copy "
        "of the block on the reading node and evicts the data set the cache was sized for."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=f"Set {tuning.KEY_PASSIVE_CACHE}=false {CLIENT_RELEASES}.",
    applies_to=CLIENT_TYPES,
    validate=client_checks(_passive_problems),
    remediate=property_remediation(_passive_fix),
    rows=(5,),
    tags=("alluxio", "client"),
)


# --- row 6: read type CACHE ------------------------------------------------------------------


def _read_type_problems(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> Iterator[str]:
    setting = component.property(tuning.KEY_READ_TYPE)
    if setting is None or setting.value.strip().upper() != "CACHE":
        reason = (" (CACHE_PROMOTE moves every block read to the top tier and thrashes it)"
                  if setting is not None and setting.value.strip().upper() == "CACHE_PROMOTE" else "")
        yield f"{tuning.KEY_READ_TYPE} is {shown(setting)}; set it explicitly to 'CACHE'{reason}"


def _read_type_fix(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> dict[str, str]:
    setting = component.property(tuning.KEY_READ_TYPE)
    return {} if setting is not None and setting.value.strip().upper() == "CACHE" else {tuning.KEY_READ_TYPE: "CACHE"}


READ_TYPE_CACHE = ResourceGuardrail(
    name="alluxio-read-type-cache",
    description=(
        "Tuning row 6: the default read type must be CACHE, set explicitly; CACHE_PROMOTE is refused because it "
        "migrates blocks between tiers on every read."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=f"Set {tuning.KEY_READ_TYPE}=CACHE {CLIENT_RELEASES}.",
    applies_to=CLIENT_TYPES,
    validate=client_checks(_read_type_problems),
    remediate=property_remediation(_read_type_fix),
    rows=(6,),
    tags=("alluxio", "client"),
)


# --- row 7: client metadata cache --------------------------------------------------------------


def _seconds(setting: Setting | None) -> float | None:
    if setting is None:
        return None
    try:
        return float(duration_seconds(setting.value.strip()))
    except DurationError:
        return None


def _metadata_problems(_: AlluxioDeployment, component: Component, config: Mapping[str, Any]) -> Iterator[str]:
    enabled = component.property(tuning.KEY_METADATA_CACHE_ENABLED)
    if enabled is None or enabled.value.strip().lower() != "true":
        yield f"{tuning.KEY_METADATA_CACHE_ENABLED} is {shown(enabled)}; set it to 'true'"
    max_size = component.property(tuning.KEY_METADATA_CACHE_MAX_SIZE)
    entries = as_int(max_size.value) if max_size is not None else None
    if entries is None or entries < 1:
        yield (f"{tuning.KEY_METADATA_CACHE_MAX_SIZE} is {shown(max_size)}; set it to the data set's file count "
               "with headroom")
    expiration = component.property(tuning.KEY_METADATA_CACHE_EXPIRATION)
    seconds = _seconds(expiration)
    floor = float(config.get("minExpirationSeconds", tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS))
    if seconds is None or seconds < floor:
        yield (f"{tuning.KEY_METADATA_CACHE_EXPIRATION} is {shown(expiration)}; set a duration of at least "
               f"{floor:g}s (the data's change interval)")
    if component.name == FUSE and entries is not None and entries > 0:
        per_entry = int(config.get("bytesPerEntry", tuning.METADATA_CACHE_BYTES_PER_ENTRY))
        yield from _heap_problems(component, entries, per_entry)


def _heap_problems(component: Component, entries: int, bytes_per_entry: int) -> Iterator[str]:
    """Row 7: a full metadata cache must fit in the FUSE heap (about 4 KB an entry)."""
    needed = entries * bytes_per_entry
    heap = component.jvm_flag("-Xmx")
    if heap is not None:
        size = jvm_size_bytes(heap.value.strip()[4:])
        if size is not None and size < needed:
            yield (f"{tuning.KEY_METADATA_CACHE_MAX_SIZE}={entries} needs about {needed / 2**30:.2f} GiB of heap but "
                   f"{heap.value!r} (from {heap.origin}) allows {size / 2**30:.2f} GiB; raise -Xmx or lower max.size")
        return
    limit = component.resource("limits", "memory")
    if limit is None:
        return
    try:
        limit_bytes = memory_bytes(limit)
    except QuantityError:
        return
    if limit_bytes < needed:
        yield (f"{tuning.KEY_METADATA_CACHE_MAX_SIZE}={entries} needs about {needed / 2**30:.2f} GiB of heap, more "
               f"than the FUSE memory limit {limit!r}")


def _metadata_fix(_: AlluxioDeployment, component: Component, config: Mapping[str, Any]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    enabled = component.property(tuning.KEY_METADATA_CACHE_ENABLED)
    if enabled is None or enabled.value.strip().lower() != "true":
        wanted[tuning.KEY_METADATA_CACHE_ENABLED] = "true"
    max_size = component.property(tuning.KEY_METADATA_CACHE_MAX_SIZE)
    entries = as_int(max_size.value) if max_size is not None else None
    if entries is None or entries < 1:
        wanted[tuning.KEY_METADATA_CACHE_MAX_SIZE] = str(int(config.get("remediationMaxSize", 100000)))
    floor = float(config.get("minExpirationSeconds", tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS))
    seconds = _seconds(component.property(tuning.KEY_METADATA_CACHE_EXPIRATION))
    if seconds is None or seconds < floor:
        wanted[tuning.KEY_METADATA_CACHE_EXPIRATION] = f"{int(floor)}s"
    return wanted


CLIENT_METADATA_CACHE = ResourceGuardrail(
    name="alluxio-client-metadata-cache",
    description=(
        "Tuning row 7: the client metadata cache must be on, sized (max.size) and given an expiration at least the "
        "data's change interval, and a full cache must fit in the FUSE heap (about 4 KB an entry), so that "
        "listing and opening millions of training files stops costing a master round trip each."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        f"Set {tuning.KEY_METADATA_CACHE_ENABLED}=true, {tuning.KEY_METADATA_CACHE_MAX_SIZE}=<file count x 1.1> and "
        f"{tuning.KEY_METADATA_CACHE_EXPIRATION}=<shortest change interval, e.g. 24h> {CLIENT_RELEASES}; give the "
        "FUSE JVM -Xmx of at least max.size x 4 KB."
    ),
    applies_to=CLIENT_TYPES,
    validate=client_checks(_metadata_problems),
    remediate=property_remediation(_metadata_fix),
    rows=(7,),
    config_schema=PolicyConfigSchema(
        properties={
            "minExpirationSeconds": {"type": "number", "minimum": 0, "default": tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS,
                                     "description": "Shortest metadata cache expiration accepted, in seconds."},
            "bytesPerEntry": {"type": "integer", "minimum": 1, "default": tuning.METADATA_CACHE_BYTES_PER_ENTRY,
                              "description": "FUSE heap one cached metadata entry takes."},
            "remediationMaxSize": {"type": "integer", "minimum": 1, "default": 100000,
                                   "description": "max.size the remediation writes when none is set."},
        },
    ),
    tags=("alluxio", "client"),
)


# --- row 8: rarer worker-list refresh --------------------------------------------------------


def _refresh_floor(config: Mapping[str, Any]) -> float:
    return float(config.get("minRefreshSeconds", tuning.ALLUXIO_DEFAULT_WORKER_LIST_REFRESH_SECONDS))


def _refresh_problems(_: AlluxioDeployment, component: Component, config: Mapping[str, Any]) -> Iterator[str]:
    setting = component.property(tuning.KEY_WORKER_LIST_REFRESH)
    seconds = _seconds(setting)
    floor = _refresh_floor(config)
    if seconds is None or seconds <= floor:
        yield (f"{tuning.KEY_WORKER_LIST_REFRESH} is {shown(setting)}; set a duration longer than {floor:g}s "
               "(Alluxio's default is 2min), e.g. '10min'")


def _refresh_fix(_: AlluxioDeployment, component: Component, config: Mapping[str, Any]) -> dict[str, str]:
    seconds = _seconds(component.property(tuning.KEY_WORKER_LIST_REFRESH))
    if seconds is not None and seconds > _refresh_floor(config):
        return {}
    return {tuning.KEY_WORKER_LIST_REFRESH: str(config.get("remediationInterval") or "10min")}


WORKER_LIST_REFRESH = ResourceGuardrail(
    name="alluxio-worker-list-refresh",
    description=(
        "Tuning row 8: clients must refresh the worker list less often than Alluxio's 2min default; with hundreds "
        "of FUSE and loader clients the refreshes are a steady load on the master for a list that rarely changes."
    ),
    severity=Severity.LOW,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps=(
        f"Set {tuning.KEY_WORKER_LIST_REFRESH} to more than 2min (e.g. 10min) {CLIENT_RELEASES}; stacks of this "
        "project: ack-alluxio-training:alluxio.client.workerListRefreshInterval."
    ),
    applies_to=CLIENT_TYPES,
    validate=client_checks(_refresh_problems),
    remediate=property_remediation(_refresh_fix),
    rows=(8,),
    config_schema=PolicyConfigSchema(
        properties={
            "minRefreshSeconds": {"type": "number", "minimum": 0,
                                  "default": tuning.ALLUXIO_DEFAULT_WORKER_LIST_REFRESH_SECONDS,
                                  "description": "The refresh interval must be longer than this many seconds."},
            "remediationInterval": {"type": "string", "default": "10min",
                                    "description": "Interval the remediation writes (an Alluxio duration)."},
        },
    ),
    tags=("alluxio", "client"),
)


# --- row 9: no access-time updates -----------------------------------------------------------


def _access_time_problems(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> Iterator[str]:
    disabled = component.property(tuning.KEY_ACCESS_TIME_UPDATES_DISABLED)
    if disabled is None or disabled.value.strip().lower() != "true":
        yield (f"{tuning.KEY_ACCESS_TIME_UPDATES_DISABLED} is {shown(disabled)}; set it to 'true' so reads stop "
               "sending access-time updates to the master")
    enabled = component.property(tuning.KEY_METADATA_CACHE_ENABLED)
    if enabled is None or enabled.value.strip().lower() != "true":
        yield (f"{tuning.KEY_ACCESS_TIME_UPDATES_DISABLED} only takes effect with {tuning.KEY_METADATA_CACHE_ENABLED}"
               f"=true, which is {shown(enabled)}")


def _access_time_fix(_: AlluxioDeployment, component: Component, __: Mapping[str, Any]) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for key in (tuning.KEY_ACCESS_TIME_UPDATES_DISABLED, tuning.KEY_METADATA_CACHE_ENABLED):
        setting = component.property(key)
        if setting is None or setting.value.strip().lower() != "true":
            wanted[key] = "true"
    return wanted


NO_ACCESS_TIME_UPDATES = ResourceGuardrail(
    name="alluxio-no-access-time-updates",
    description=(
        "Tuning row 9: access-time updates must be disabled, together with the client metadata cache they depend "
        "on, because every read of a training file would otherwise be a metadata write on the master."
    ),
    severity=Severity.LOW,
    enforcement_level=EnforcementLevel.ADVISORY,
    remediation_steps=(
        f"Set {tuning.KEY_ACCESS_TIME_UPDATES_DISABLED}=true and {tuning.KEY_METADATA_CACHE_ENABLED}=true "
        f"{CLIENT_RELEASES}."
    ),
    applies_to=CLIENT_TYPES,
    validate=client_checks(_access_time_problems),
    remediate=property_remediation(_access_time_fix),
    rows=(9,),
    tags=("alluxio", "client"),
)


# --- row 10: direct file short-circuit -------------------------------------------------------


def _short_circuit(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for rendered in rendered_components(args.resource_type, args.props, args.name, args.opts.parent):
        if rendered.name in (WORKER, FUSE) and not rendered.host_network:
            report(f"{rendered.label}: {rendered.template.at('spec.hostNetwork')} is not true; worker and FUSE must "
                   "both use the host network so the worker's hostname matches the client's", None)
    deployment = deployment_of(args)
    if deployment is None or not (deployment.runs(WORKER) or deployment.runs(FUSE)):
        return
    label = where(deployment)
    if not deployment.fluid:
        enabled = deployment.chart("shortCircuit", "enabled")
        if as_flag(enabled.value) is False:
            report(f"{label}: {described('values.shortCircuit.enabled', enabled)} is false; set it to true", None)
        policy = deployment.chart("shortCircuit", "policy")
        if as_text(policy.value) != "local":
            report(f"{label}: {described('values.shortCircuit.policy', policy)} is {as_text(policy.value)!r}; set it "
                   "to 'local' (no domain socket: FUSE reads the worker's block files directly)", None)
    for component in deployment.client_components:
        setting = component.property(tuning.KEY_SHORT_CIRCUIT_ENABLED)
        if setting is not None and setting.value.strip().lower() == "false":
            report(f"{where(deployment, component)}: {tuning.KEY_SHORT_CIRCUIT_ENABLED} is {shown(setting)}; "
                   "remove it or set it to 'true'", None)
    for tier in deployment.tiers:
        if tier.volume_type != "hostPath":
            report(f"{label}: {tier.origin} type is {tier.volume_type!r}; use 'hostPath' so the worker and FUSE "
                   "pods see the same block files (an emptyDir tier silently falls back to gRPC)", None)
    for name in (WORKER, FUSE):
        networked = deployment.components.get(name)
        if networked is not None and not networked.host_network:
            origin = networked.host_network_origin if deployment.fluid else networked.origin("hostNetwork")
            report(f"{label}: {origin} does not put {name} on the host network; worker and "
                   "FUSE must both use the host network so the worker's hostname matches the client's", None)


SHORT_CIRCUIT_LOCAL = ResourceGuardrail(
    name="alluxio-short-circuit-local",
    description=(
        "Tuning row 10: FUSE must read cached blocks as local files: short-circuit on with policy 'local', tiers on "
        "a hostPath both pods mount, and worker and FUSE on the host network so their hostnames match; otherwise "
        "every cached read is a gRPC copy through the worker."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "In the chart values set shortCircuit.enabled=true, shortCircuit.policy=local, every "
        "tieredstore.levels[].type=hostPath, worker.hostNetwork=true and fuse.hostNetwork=true (Fluid: "
        "tieredstore volumeType hostPath, worker/fuse networkMode HostNetwork)."
    ),
    applies_to=any_of(could_be_alluxio, is_workload_type),
    validate=_short_circuit,
    rows=(10,),
    tags=("alluxio",),
)


# --- row 11: the JVM sees the real CPUs --------------------------------------------------------


def _expected_processors(component: Component) -> int | None:
    limit = component.resource("limits", "cpu")
    if limit is None:
        return None
    try:
        return tuning.active_processor_count(limit)
    except QuantityError:
        return None


def _processor_count(args: ResourceValidationArgs, report: ReportViolation) -> None:
    deployment = deployment_of(args)
    if deployment is None:
        return
    for component in deployment.components.values():
        limit = component.resource("limits", "cpu")
        expected = _expected_processors(component)
        flag = component.jvm_flag(ACTIVE_PROCESSOR_COUNT_FLAG)
        if limit is None:
            # No limit to derive the count from (row 12 reports that); a JVM with neither sizes
            # its GC and JIT threads from the host's cores.
            if flag is None:
                report(f"{where(deployment, component)}: {ACTIVE_PROCESSOR_COUNT_FLAG}<cpu limit> missing and "
                       f"{component.resource_origin('limits', 'cpu')} unset", None)
            continue
        actual = as_int(flag.value.strip()[len(ACTIVE_PROCESSOR_COUNT_FLAG):]) if flag is not None else None
        if expected is None:
            report(f"{where(deployment, component)}: {component.resource_origin('limits', 'cpu')} {limit!r} is not a "
                   "cpu quantity", None)
        elif actual != expected:
            found = f"{flag.value!r} (from {flag.origin})" if flag is not None else "missing"
            report(f"{where(deployment, component)}: {ACTIVE_PROCESSOR_COUNT_FLAG}{expected} expected for cpu limit "
                   f"{limit!r} ({component.resource_origin('limits', 'cpu')}), found {found}", None)


def _processor_fix(args: ResourceValidationArgs) -> Mapping[str, Any] | None:
    deployment = deployment_of(args)
    if deployment is None:
        return None
    changes: dict[str, int] = {}
    for component in deployment.components.values():
        expected = _expected_processors(component)
        flag = component.jvm_flag(ACTIVE_PROCESSOR_COUNT_FLAG)
        actual = as_int(flag.value.strip()[len(ACTIVE_PROCESSOR_COUNT_FLAG):]) if flag is not None else None
        if expected is not None and actual != expected:
            changes[component.name] = expected
    if not changes:
        return None
    plain = copy.deepcopy(dict(serialize_properties(args.props)))
    root = _writable_root(plain, deployment)
    for name, processors in changes.items():
        section = _section(root, name)
        if section is None:
            section = root[name] = {}
        options = _revealed(section.get("jvmOptions"))
        kept = [o for o in options if not (isinstance(o, str) and o.strip().startswith(ACTIVE_PROCESSOR_COUNT_FLAG))] \
            if isinstance(options, list) else []
        section["jvmOptions"] = [*kept, f"{ACTIVE_PROCESSOR_COUNT_FLAG}{processors}"]
    return plain


ACTIVE_PROCESSOR_COUNT = ResourceGuardrail(
    name="alluxio-jvm-active-processor-count",
    description=(
        "Tuning row 11: every Alluxio JVM must be told its container's cpu limit, rounded up, as "
        "-XX:ActiveProcessorCount; otherwise it sizes GC, JIT and RPC pools from the host's cores (or from 1 under "
        "cpu shares) and either thrashes the quota or starves."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Add -XX:ActiveProcessorCount=<ceil(cpu limit)> to master/jobMaster/worker/jobWorker/fuse jvmOptions, "
        "matching each one's resources.limits.cpu (ack_alluxio_training.tuning.jvm_cpu_options)."
    ),
    applies_to=could_be_alluxio,
    validate=_processor_count,
    remediate=_processor_fix,
    rows=(11,),
    tags=("alluxio", "jvm"),
)


# --- row 12: cpu requests and limits everywhere -----------------------------------------------


def _cpu_resources(args: ResourceValidationArgs, report: ReportViolation) -> None:
    whole_cores = bool(args.get_config().get("wholeCores", True))
    for rendered in rendered_components(args.resource_type, args.props, args.name, args.opts.parent):
        request, limit = rendered.resource("requests", "cpu"), rendered.resource("limits", "cpu")
        problem = tuning.cpu_guarantee_problem(request, limit, whole_cores)
        if problem is not None:
            report(f"{rendered.label}: cpu request {show(request)} ({rendered.origin('requests', 'cpu')}) and limit "
                   f"{show(limit)} ({rendered.origin('limits', 'cpu')}): {problem}", None)
    deployment = deployment_of(args)
    if deployment is None:
        return
    for component in deployment.components.values():
        request = component.resource("requests", "cpu")
        limit = component.resource("limits", "cpu")
        problem = tuning.cpu_guarantee_problem(request, limit, whole_cores)
        if problem is not None:
            report(f"{where(deployment, component)}: cpu request {show(request)} "
                   f"({component.resource_origin('requests', 'cpu')}) and limit {show(limit)} "
                   f"({component.resource_origin('limits', 'cpu')}): {problem}", None)


ALLUXIO_CPU_REQUESTS_LIMITS = ResourceGuardrail(
    name="alluxio-cpu-requests-limits",
    description=(
        "Tuning row 12: every Alluxio container (master, jobMaster, worker, jobWorker, fuse) must have a cpu request "
        "equal to its cpu limit, in whole cores: a container without a request gets cpu_shares=2 and loses every "
        "contention with training, and the static CPU manager gives exclusive cores only to Guaranteed pods with "
        "equal integer requests and limits. Chart defaults count: chart 0.6.53 requests 1 core under a limit of 4."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set <component>.resources.requests.cpu equal to <component>.resources.limits.cpu, in whole cores, for every "
        "deployed component (our stacks: one cpu value per component, e.g. ack-alluxio-training:alluxio.master.cpu)."
    ),
    applies_to=any_of(could_be_alluxio, is_workload_type),
    validate=_cpu_resources,
    rows=(12,),
    config_schema=PolicyConfigSchema(properties={"wholeCores": WHOLE_CORES_CONFIG}),
    tags=("alluxio", "resources"),
)


# --- chart fact: a release without a master must be told where the master is --------------------

MASTER_ADDRESS_KEYS: Final = (
    "alluxio.master.hostname",
    "alluxio.master.rpc.addresses",
    "alluxio.master.embedded.journal.addresses",
)


def _finds_master(args: ResourceValidationArgs, report: ReportViolation) -> None:
    deployment = deployment_of(args)
    if deployment is None or deployment.fluid or deployment.runs(MASTER):
        return
    for component in deployment.components.values():
        if not any(component.property(key) is not None for key in MASTER_ADDRESS_KEYS):
            report(f"{where(deployment, component)}: the release runs no master and sets none of "
                   f"{', '.join(MASTER_ADDRESS_KEYS)}; the chart would derive the master from this release's own "
                   f"name ({deployment.name!r}) and the process would never connect", None)


CLIENT_FINDS_MASTER = ResourceGuardrail(
    name="alluxio-client-finds-master",
    description=(
        "An Alluxio release that runs no master (the FUSE release) must name the master explicitly "
        "(alluxio.master.hostname): with one master the chart derives the master's host from the release's own "
        "full name, which in a FUSE-only release points at nothing."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set alluxio.master.hostname=<master pod>.<master release>.<namespace> (e.g. "
        "alluxio-master-0.alluxio.svc) in the FUSE release's properties."
    ),
    applies_to=could_be_alluxio,
    validate=_finds_master,
    tags=("alluxio",),
)


POLICIES: Final[list[Guardrail]] = [
    UFS_READ_AVOIDS_EVICTION,
    NO_PASSIVE_CACHE,
    READ_TYPE_CACHE,
    CLIENT_METADATA_CACHE,
    WORKER_LIST_REFRESH,
    NO_ACCESS_TIME_UPDATES,
    SHORT_CIRCUIT_LOCAL,
    ACTIVE_PROCESSOR_COUNT,
    ALLUXIO_CPU_REQUESTS_LIMITS,
    CLIENT_FINDS_MASTER,
]
