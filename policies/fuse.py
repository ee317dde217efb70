"""Guardrails on the Alluxio FUSE daemon: kernel metadata TTLs (row 2), FUSE threads (row 3), and
where privileged pods may run.

FUSE is the one privileged piece of the platform (it mounts a file system on the host), so it gets
its own namespace and nothing else privileged may run outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
)

from ack_alluxio_training import tuning
from ack_alluxio_training.conventions import DEFAULT_FUSE_NAMESPACE
from ack_alluxio_training.policies.alluxio import where
from ack_alluxio_training.policies.alluxio_deployments import (
    FUSE,
    AlluxioDeployment,
    alluxio_deployment,
    could_be_alluxio,
    helm_runs_embedded_fuse,
)
from ack_alluxio_training.policies.guardrails import Guardrail, ResourceGuardrail, any_of, config_value
from ack_alluxio_training.policies.inputs import as_flag, as_int, as_mapping, as_sequence, as_text, dig, string_map
from ack_alluxio_training.policies.workloads import is_pod_workload, namespace_of, pod_templates

MAX_IDLE_THREADS_ENV: Final = "MAX_IDLE_THREADS"
MAX_IDLE_THREADS_OPTION: Final = "max_idle_threads"
TIMEOUT_OPTIONS: Final = ("entry_timeout", "attr_timeout")
#: Capabilities that amount to a privileged container for a FUSE mount.
PRIVILEGED_CAPABILITIES: Final = frozenset({"SYS_ADMIN", "ALL", "CAP_SYS_ADMIN"})
#: The label chart 0.6.53 puts on its FUSE DaemonSet's pods: the one workload allowed to be privileged.
FUSE_ROLE_LABEL: Final = ("role", "alluxio-fuse")


def libfuse_version(deployment: AlluxioDeployment) -> int | None:
    """The libfuse the FUSE process is told to use (``alluxio.fuse.jnifuse.libfuse.version``)."""
    fuse = deployment.components.get(FUSE)
    if fuse is None:
        return None
    setting = fuse.property(tuning.KEY_LIBFUSE_VERSION)
    return as_int(setting.value) if setting is not None else None


def fuse_threads(deployment: AlluxioDeployment) -> int | None:
    """Row 3: the FUSE threads a deployment configures for the libfuse it uses (None when unset)."""
    fuse = deployment.components.get(FUSE)
    if fuse is None:
        return None
    if libfuse_version(deployment) == 3:
        option = deployment.fuse_mount_options.get(MAX_IDLE_THREADS_OPTION)
        return as_int(option.value) if option is not None else None
    return as_int(fuse.env.get(MAX_IDLE_THREADS_ENV))


# --- row 2: kernel metadata TTLs -----------------------------------------------------------------


def _timeouts(args: ResourceValidationArgs, report: ReportViolation) -> None:
    deployment = alluxio_deployment(args.resource_type, args.props, args.name)
    if deployment is None or not deployment.runs(FUSE):
        return
    floor = Decimal(str(config_value(args, "minTimeoutSeconds", tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS))).normalize()
    options = deployment.fuse_mount_options
    for name in TIMEOUT_OPTIONS:
        option = options.get(name)
        if option is None:
            report(f"{where(deployment)}: FUSE mount option {name} is not set (the kernel then re-asks Alluxio for "
                   f"metadata every second); add {name}=<seconds >= {floor:f}> to the FUSE mount options", None)
            continue
        try:
            seconds = Decimal(option.value)
        except InvalidOperation:
            seconds = Decimal(-1)
        if seconds < floor:
            report(f"{where(deployment)}: FUSE mount option {name}={option.value!r} (from {option.origin}) is below "
                   f"the floor of {floor:f} seconds", None)


FUSE_METADATA_TTL = ResourceGuardrail(
    name="alluxio-fuse-metadata-ttl",
    description=(
        "Tuning row 2: the FUSE mount must keep dentries and attributes in the kernel for at least the configured "
        "floor (entry_timeout and attr_timeout), so that stat/open of read-only training files stays in the kernel "
        "instead of a round trip through FUSE and the Alluxio master."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Stacks of this project: ack-alluxio-training:fuse.entryTimeoutSeconds and fuse.attrTimeoutSeconds (at "
        "least the floor, default 600). Other stacks: add entry_timeout=7200,attr_timeout=7200 to "
        "values.fuse.mountOptions (Fluid: the fuse args' -o/--fuse-opts), plus kernel_cache,ro for a read-only data "
        "set. A -o list replaces the image's default direct_io."
    ),
    applies_to=could_be_alluxio,
    validate=_timeouts,
    rows=(2,),
    config_schema=PolicyConfigSchema(
        properties={"minTimeoutSeconds": {"type": "number", "minimum": 0,
                                          "default": tuning.DEFAULT_MIN_FUSE_TIMEOUT_SECONDS,
                                          "description": "Floor for entry_timeout and attr_timeout, in seconds."}},
    ),
    tags=("fuse",),
)


# --- row 3: FUSE threads present -----------------------------------------------------------------


def _threads(args: ResourceValidationArgs, report: ReportViolation) -> None:
    deployment = alluxio_deployment(args.resource_type, args.props, args.name)
    if deployment is None or not deployment.runs(FUSE):
        return
    fuse = deployment.components[FUSE]
    label = where(deployment, fuse)
    minimum = int(config_value(args, "minThreads", 1))
    version_setting = fuse.property(tuning.KEY_LIBFUSE_VERSION)
    version = libfuse_version(deployment)
    if version not in (2, 3):
        shown = repr(version_setting.value) if version_setting is not None else "unset"
        report(f"{label}: {tuning.KEY_LIBFUSE_VERSION} is {shown}; set it explicitly to 2 (the image's patched "
               "libfuse2, threads from MAX_IDLE_THREADS) or 3 (-o max_idle_threads)", None)
        return
    option = deployment.fuse_mount_options.get(MAX_IDLE_THREADS_OPTION)
    if version == 2:
        if option is not None:
            report(f"{label}: mount option {MAX_IDLE_THREADS_OPTION} (from {option.origin}) is a libfuse3 option; "
                   f"libfuse2 refuses it: use the {MAX_IDLE_THREADS_ENV} env instead", None)
        value = fuse.env.get(MAX_IDLE_THREADS_ENV)
        threads = as_int(value)
        if threads is None or threads < minimum:
            shown = repr(value) if value is not None else "unset"
            report(f"{label}: env {MAX_IDLE_THREADS_ENV} ({fuse.section}.env) is {shown}; with libfuse 2 set it to the "
                   f"training reader threads per node (at least {minimum})", None)
        return
    threads = as_int(option.value) if option is not None else None
    if threads is None or threads < minimum:
        shown = f"{option.value!r} (from {option.origin})" if option is not None else "unset"
        report(f"{label}: mount option {MAX_IDLE_THREADS_OPTION} is {shown}; with libfuse 3 set "
               f"-o {MAX_IDLE_THREADS_OPTION}=<reader threads per node> (at least {minimum})", None)


FUSE_THREADS = ResourceGuardrail(
    name="alluxio-fuse-threads",
    description=(
        "Tuning row 3: the FUSE daemon must state its thread count for the libfuse it runs (MAX_IDLE_THREADS env for "
        "libfuse 2, -o max_idle_threads for libfuse 3, with alluxio.fuse.jnifuse.libfuse.version set so both "
        "agree); libfuse otherwise keeps 10 idle threads and destroys the rest, serialising the data loaders."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Stacks of this project: ack-alluxio-training:fuse.libfuseVersion and fuse.maxIdleThreads. Other stacks: set "
        "values.fuse.properties.alluxio.fuse.jnifuse.libfuse.version to 2 and values.fuse.env.MAX_IDLE_THREADS=<reader "
        "threads per node>, or to 3 and add max_idle_threads=<reader threads per node> to the FUSE mount options."
    ),
    applies_to=could_be_alluxio,
    validate=_threads,
    rows=(3,),
    config_schema=PolicyConfigSchema(
        properties={"minThreads": {"type": "integer", "minimum": 1, "default": 1,
                                   "description": "Fewest FUSE threads accepted on any node."}},
    ),
    tags=("fuse",),
)


# --- privileged pods only in the FUSE namespace -------------------------------------------------


def _privileged(container: Mapping[str, Any]) -> str | None:
    context = as_mapping(container.get("securityContext"))
    if as_flag(context.get("privileged")) is True:
        return "securityContext.privileged is true"
    added = {(as_text(c) or "").upper() for c in as_sequence(dig(context, "capabilities", "add"))}
    granted = sorted(added & PRIVILEGED_CAPABILITIES)
    if granted:
        return f"securityContext.capabilities.add grants {', '.join(granted)}"
    return None


def _privilege(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = [str(n) for n in as_sequence(config_value(args, "fuseNamespaces", [DEFAULT_FUSE_NAMESPACE]))]
    shown_allowed = ", ".join(repr(n) for n in allowed)
    deployment = alluxio_deployment(args.resource_type, args.props, args.name)
    if deployment is not None and deployment.fluid:
        # Fluid's controller runs a runtime's FUSE DaemonSet in the runtime's own namespace (the
        # namespace of its Dataset, where the training pods mount the PVC): that namespace is a FUSE
        # namespace by construction, and the privileged pods there are Fluid's, not the stack's.
        return
    if deployment is not None:
        embedded = helm_runs_embedded_fuse(args.props)
        if embedded:
            # Embedded FUSE makes every worker privileged, so the namespace would hold more than the
            # FUSE DaemonSet privileged, wherever it is.
            report(f"{where(deployment)}: values.worker.fuseEnabled embeds FUSE in privileged workers; run FUSE as "
                   f"its own DaemonSet (fuse.enabled) in {shown_allowed} so that it is the only privileged pod", None)
        elif deployment.runs(FUSE) and deployment.namespace not in allowed:
            report(f"{where(deployment)} is in namespace {deployment.namespace!r} and its FUSE pods run privileged; "
                   f"deploy it to {shown_allowed}", None)
        return
    namespace = namespace_of(args.props)
    for template in pod_templates(args.resource_type, args.props):
        is_fuse = string_map(template.metadata.get("labels")).get(FUSE_ROLE_LABEL[0]) == FUSE_ROLE_LABEL[1]
        if namespace in allowed and is_fuse:
            continue
        where_allowed = (
            f"in {namespace!r} only the Alluxio FUSE DaemonSet (pods labelled role=alluxio-fuse) may be privileged"
            if namespace in allowed
            else f"privileged pods may only run in {shown_allowed}"
        )
        for list_name in ("initContainers", "containers"):
            for index, raw in enumerate(as_sequence(template.spec.get(list_name))):
                container = as_mapping(raw)
                reason = _privileged(container)
                if reason:
                    name = as_text(container.get("name")) or str(index)
                    report(f"{template.at(f'spec.{list_name}[{index}]')} ({name!r}): {reason} in namespace "
                           f"{namespace!r}; {where_allowed}", None)


PRIVILEGED_ONLY_IN_FUSE_NAMESPACE = ResourceGuardrail(
    name="privileged-pods-only-in-fuse-namespace",
    description=(
        "Privileged containers (privileged: true or CAP_SYS_ADMIN) may only run in the namespace of the Alluxio FUSE "
        "daemon (by default the cache's, 'alluxio': the chart's FUSE DaemonSet must sit beside the workers; a Fluid "
        "AlluxioRuntime owns the FUSE of its own namespace). FUSE is the one component that needs them, so inside that "
        "namespace too only the FUSE DaemonSet (pods labelled role=alluxio-fuse) may be privileged, and a release "
        "that embeds FUSE in privileged workers (worker.fuseEnabled) is refused anywhere."
    ),
    severity=Severity.CRITICAL,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Deploy the Alluxio FUSE release (fuse.enabled=true, not worker.fuseEnabled) in the cache's namespace (default "
        "'alluxio'); remove privileged/SYS_ADMIN from any other pod, in that namespace too, or list another FUSE "
        "namespace in this policy's fuseNamespaces."
    ),
    applies_to=any_of(could_be_alluxio, is_pod_workload),
    validate=_privilege,
    config_schema=PolicyConfigSchema(
        properties={"fuseNamespaces": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                                       "default": [DEFAULT_FUSE_NAMESPACE],
                                       "description": "Namespaces where privileged (FUSE) pods may run."}},
    ),
    tags=("fuse", "security"),
)


POLICIES: Final[list[Guardrail]] = [FUSE_METADATA_TTL, FUSE_THREADS, PRIVILEGED_ONLY_IN_FUSE_NAMESPACE]
