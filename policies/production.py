"""Production safety switches: what a prod stack may not turn off, in any stack.

The settings refuse a prod stack that turns these off; this policy catches the same in stacks that
do not use our settings. A stack is production when any of these says so (the message names which):

- a cluster, node pool or bucket tagged ``ack-alluxio-training/environment``, ``environment`` or
  ``env`` (any case) with the value ``prod`` or ``production`` (our components tag the cluster and
  the node pool);
- a stack tag ``environment``/``env`` of that value (Pulumi Cloud stack tags);
- the stack's name, as the resources' URNs carry it: ``prod``, ``production``, or a name with such
  a part between ``-``, ``_`` or ``.`` (``team-prod``, ``prod_eu``).

In production: every ACK cluster (``cs.ManagedKubernetes``, ``cs.Kubernetes``) keeps deletion
protection on; every OSS bucket carries Pulumi's ``protect`` option and no ``forceDestroy``
(``retainOnDelete`` is not visible to policies; the DatasetBucket sets it with ``protect``).
The pack cannot see its own enforcement levels, so a prod stack run with a looser policy config is
refused by the settings (``policy.configFile``), not here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pulumi_policy import EnforcementLevel, PolicyResource, ReportViolation, Severity, StackValidationArgs

from ack_alluxio_training.conventions import ENVIRONMENT_TAG
from ack_alluxio_training.policies.guardrails import Guardrail, StackGuardrail, exact_types
from ack_alluxio_training.policies.inputs import as_flag, as_mapping, as_text
from ack_alluxio_training.policies.storage import BUCKET, bucket_name

MANAGED_KUBERNETES: Final = "alicloud:cs/managedKubernetes:ManagedKubernetes"
KUBERNETES_CLUSTER: Final = "alicloud:cs/kubernetes:Kubernetes"
CLUSTERS: Final = (MANAGED_KUBERNETES, KUBERNETES_CLUSTER)
PRODUCTION_WORDS: Final = frozenset({"prod", "production"})
ENVIRONMENT_TAG_KEYS: Final = frozenset({ENVIRONMENT_TAG.lower(), "environment", "env"})
_NAME_PARTS: Final = re.compile(r"[-_.]")


def names_production(value: str | None) -> bool:
    """Whether an environment value says production (``prod``, ``Production``)."""
    return value is not None and value.strip().lower() in PRODUCTION_WORDS


def stack_name_is_production(stack: str) -> bool:
    """Whether a stack name says production: ``prod`` itself or as a part (``team-prod``)."""
    return any(part in PRODUCTION_WORDS for part in _NAME_PARTS.split(stack.lower()))


def stack_name(resource: PolicyResource) -> str:
    """The stack name in a resource's URN (``urn:pulumi:<stack>::<project>::...``)."""
    head = resource.urn.split("::", 1)[0]
    return head.removeprefix("urn:pulumi:")


def _environment_tag(tags: Mapping[str, Any]) -> str | None:
    for key, value in tags.items():
        if str(key).lower() in ENVIRONMENT_TAG_KEYS and names_production(as_text(value)):
            return f"{key}={as_text(value)}"
    return None


def production_evidence(resources: Iterable[PolicyResource], stack_tags: Mapping[str, str]) -> str | None:
    """What says this stack is production, or None when nothing does."""
    tag = _environment_tag(stack_tags)
    if tag:
        return f"stack tag {tag}"
    listed = list(resources)
    for resource in listed:
        tag = _environment_tag(as_mapping(resource.props.get("tags")))
        if tag:
            return f"tag {tag} on {resource.name}"
    for resource in listed:
        name = stack_name(resource)
        if stack_name_is_production(name):
            return f"stack name {name!r}"
    return None


def _cluster_problem(resource: PolicyResource) -> str | None:
    if as_flag(resource.props.get("deletionProtection")) is True:
        return None
    shown = resource.props.get("deletionProtection")
    return f"cluster {resource.name} has deletionProtection {shown!r}; a prod cluster keeps it true"


def _bucket_problems(resource: PolicyResource) -> list[str]:
    problems = []
    if not resource.opts.protect:
        problems.append(f"bucket {bucket_name(resource)!r} is not protected (resource option protect=True)")
    if as_flag(resource.props.get("forceDestroy")) is True:
        problems.append(f"bucket {bucket_name(resource)!r} has forceDestroy true, which empties it on delete")
    return problems


def _production_safety(args: StackValidationArgs, report: ReportViolation) -> None:
    evidence = production_evidence(args.resources, args.stack_tags or {})
    if evidence is None:
        return
    for resource in args.resources:
        if resource.resource_type in CLUSTERS:
            problem = _cluster_problem(resource)
            if problem:
                report(f"production ({evidence}): {problem}", resource.urn)
        elif resource.resource_type == BUCKET:
            for problem in _bucket_problems(resource):
                report(f"production ({evidence}): {problem}", resource.urn)


PROD_SAFETY_SWITCHES = StackGuardrail(
    name="prod-safety-switches",
    description=(
        "A production stack (tagged environment=prod, or so named) keeps its safety switches on: ACK cluster "
        "deletion protection, and protected OSS buckets that are never force-destroyed, so one command cannot "
        "delete the cluster or terabytes of training data."
    ),
    severity=Severity.CRITICAL,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Set deletionProtection=true on the cluster (the stack's cluster.deletionProtection; on by default in prod), "
        "create buckets with pulumi.ResourceOptions(protect=True, retain_on_delete=True) and without forceDestroy."
    ),
    applies_to=exact_types(*CLUSTERS, BUCKET, "alicloud:cs/nodePool:NodePool"),
    validate=_production_safety,
    tags=("production", "reliability"),
)

POLICIES: Final[list[Guardrail]] = [PROD_SAFETY_SWITCHES]
