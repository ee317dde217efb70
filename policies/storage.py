"""Guardrails on the data set's storage: OSS buckets and the RAM policy that reads them.

The training data is often licensed (ImageNet) or private, and the cache reads it with a long-lived
access key, so the bucket must be private, encrypted, closed to public access and protected from
``pulumi destroy`` in production, and the key's RAM policy must name the bucket and the actions it
needs, nothing wider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    Severity,
    StackValidationArgs,
)

from ack_alluxio_training.policies.guardrails import (
    Guardrail,
    ResourceGuardrail,
    StackGuardrail,
    config_value,
    exact_types,
)
from ack_alluxio_training.policies.inputs import as_flag, as_mapping, as_sequence, as_text, show

BUCKET: Final = "alicloud:oss/bucket:Bucket"
BUCKET_ACL: Final = "alicloud:oss/bucketAcl:BucketAcl"
BUCKET_ENCRYPTION: Final = "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"
BUCKET_PUBLIC_ACCESS_BLOCK: Final = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
ACCOUNT_PUBLIC_ACCESS_BLOCK: Final = "alicloud:oss/accountPublicAccessBlock:AccountPublicAccessBlock"
RAM_POLICY: Final = "alicloud:ram/policy:Policy"
SSE_ALGORITHMS: Final = frozenset({"AES256", "KMS", "SM4"})
_WILDCARDS: Final = ("*", "?")


def bucket_name(resource: PolicyResource) -> str:
    """The OSS bucket a resource is or belongs to (its ``bucket`` property, else its name)."""
    return as_text(resource.props.get("bucket")) or resource.name


# --- private ACL -----------------------------------------------------------------------------------


def _private_acl(args: ResourceValidationArgs, report: ReportViolation) -> None:
    acl = as_text(args.props.get("acl"))
    if args.resource_type == BUCKET and acl is None:
        return  # a new bucket is private unless told otherwise
    if acl != "private":
        report(f"acl is {acl!r}; set it to 'private' (public-read exposes the data set, public-read-write lets "
               "anyone overwrite it)", None)


OSS_BUCKET_PRIVATE = ResourceGuardrail(
    name="oss-bucket-private",
    description=(
        "OSS buckets holding training data must be private: the cache reads them with its own key, and a public "
        "ACL would publish a (often licensed) data set or let anyone overwrite it."
    ),
    severity=Severity.CRITICAL,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Set acl='private' on the oss.BucketAcl (or leave the deprecated Bucket.acl unset or 'private').",
    applies_to=exact_types(BUCKET, BUCKET_ACL),
    validate=_private_acl,
    tags=("oss", "security"),
)


# --- protected in production ---------------------------------------------------------------------


def _protected(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not config_value(args, "requireProtect", True):
        return
    if not args.opts.protect:
        report(f"bucket {as_text(args.props.get('bucket')) or args.name!r} is not protected; set the resource "
               "option protect=True so 'pulumi destroy' cannot delete the data set", None)


OSS_BUCKET_PROTECTED = ResourceGuardrail(
    name="oss-bucket-protected",
    description=(
        "Data set buckets must carry Pulumi's protect option where the environment requires it (production), so a "
        "stack teardown or a replacing change cannot delete terabytes of training data."
    ),
    severity=Severity.MEDIUM,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Create the bucket with pulumi.ResourceOptions(protect=True) (the DatasetBucket does in prod).",
    applies_to=exact_types(BUCKET),
    validate=_protected,
    config_schema=PolicyConfigSchema(
        properties={"requireProtect": {"type": "boolean", "default": True,
                                       "description": "Whether buckets must be protected (true in production)."}},
    ),
    tags=("oss", "reliability"),
)


# --- RAM policy scoped to the bucket -----------------------------------------------------------


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [text for text in (as_text(v) for v in as_sequence(value)) if text is not None]


def _field(statement: Mapping[str, Any], name: str) -> Any:
    """A statement field, whatever its case ("Action", "action")."""
    for key in statement:
        if str(key).lower() == name.lower():
            return statement[key]
    return None


def _resource_problem(resource: str, allowed_buckets: Sequence[str]) -> str | None:
    if resource.strip() in ("*", ""):
        return "is a wildcard"
    parts = resource.split(":", 4)
    if len(parts) < 5 or parts[0] != "acs":
        return "is not an acs:<service>:<region>:<account>:<resource> name"
    target = parts[4]
    head = target.split("/", 1)[0]
    if not head or any(w in head for w in _WILDCARDS):
        return "does not name a concrete resource (wildcard before the first '/')"
    if parts[1] == "oss" and allowed_buckets and head not in allowed_buckets:
        return f"names bucket {head!r}, not one of {list(allowed_buckets)}"
    return None


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    raw = _field(document, "Statement")
    if isinstance(raw, Mapping):
        return [raw]
    return [as_mapping(s) for s in as_sequence(raw)]


def _statement_problems(index: int, statement: Mapping[str, Any], allowed: Sequence[str]) -> Iterator[str]:
    effect = (as_text(_field(statement, "Effect")) or "").lower()
    if effect != "allow":
        return
    where = f"Statement[{index}]"
    for negated in ("NotAction", "NotResource"):
        if _field(statement, negated) is not None:
            yield f"{where} allows with {negated}, which grants everything not listed"
    for action in _strings(_field(statement, "Action")):
        if any(w in action for w in _WILDCARDS):
            yield f"{where} Action {action!r} is a wildcard; list the actions (e.g. oss:GetObject, oss:ListObjects)"
    resources = _strings(_field(statement, "Resource"))
    if not resources and _field(statement, "NotResource") is None:
        yield f"{where} names no Resource"
    for resource in resources:
        problem = _resource_problem(resource, allowed)
        if problem:
            yield f"{where} Resource {resource!r} {problem}"


def _least_privilege(args: ResourceValidationArgs, report: ReportViolation) -> None:
    allowed = [str(b) for b in as_sequence(config_value(args, "allowedBuckets", []))]
    for key in ("policyDocument", "document"):
        text = as_text(args.props.get(key))
        if text is None:
            continue
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            report(f"{key} is not valid JSON ({error.msg})", None)
            return
        for index, statement in enumerate(_statements(as_mapping(document))):
            for problem in _statement_problems(index, statement, allowed):
                report(f"{key} {problem}", None)
        return
    for index, raw in enumerate(as_sequence(args.props.get("statements"))):
        statement = as_mapping(raw)
        converted = {"Effect": statement.get("effect"), "Action": statement.get("actions"),
                     "Resource": statement.get("resources")}
        for problem in _statement_problems(index, converted, allowed):
            report(f"statements: {problem}", None)


RAM_POLICY_LEAST_PRIVILEGE = ResourceGuardrail(
    name="ram-policy-least-privilege",
    description=(
        "RAM policies must allow listed actions on named resources only: no wildcard actions, no wildcard or "
        "account-wide resources, no NotAction/NotResource; the cache's access key lives in the cluster, so its "
        "policy bounds what a leaked key can do."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Grant only the read actions the cache needs (oss:GetObject, oss:ListObjects, oss:GetBucketInfo) on "
        "acs:oss:*:*:<bucket> and acs:oss:*:*:<bucket>/<prefix>*."
    ),
    applies_to=exact_types(RAM_POLICY),
    validate=_least_privilege,
    config_schema=PolicyConfigSchema(
        properties={"allowedBuckets": {"type": "array", "items": {"type": "string"}, "default": [],
                                       "description": "Buckets OSS statements may name (empty: any named bucket)."}},
    ),
    tags=("ram", "security"),
)


# --- stack: encryption and public access block ---------------------------------------------------


def _encrypted(args: StackValidationArgs, report: ReportViolation) -> None:
    encrypted: set[str] = set()
    for resource in args.resources:
        if resource.resource_type == BUCKET_ENCRYPTION:
            algorithm = as_text(resource.props.get("sseAlgorithm"))
            if algorithm in SSE_ALGORITHMS:
                encrypted.add(bucket_name(resource))
            else:
                report(f"sseAlgorithm is {algorithm!r}; use AES256, KMS or SM4", resource.urn)
    for resource in args.resources:
        if resource.resource_type != BUCKET:
            continue
        rule = as_mapping(resource.props.get("serverSideEncryptionRule"))
        if as_text(rule.get("sseAlgorithm")) in SSE_ALGORITHMS or bucket_name(resource) in encrypted:
            continue
        report(f"bucket {bucket_name(resource)!r} has no server-side encryption: add an "
               "oss.BucketServerSideEncryption (sseAlgorithm AES256 or KMS)", resource.urn)


OSS_BUCKET_ENCRYPTED = StackGuardrail(
    name="oss-bucket-encrypted",
    description=(
        "Every OSS bucket must have server-side encryption (an oss.BucketServerSideEncryption or the bucket's own "
        "rule), so the data set is encrypted at rest whatever the account default."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps=(
        "Add an oss.BucketServerSideEncryption for the bucket with sseAlgorithm AES256 (or KMS with a key)."
    ),
    applies_to=exact_types(BUCKET, BUCKET_ENCRYPTION),
    validate=_encrypted,
    tags=("oss", "security"),
)


def _public_access(args: StackValidationArgs, report: ReportViolation) -> None:
    blocked: set[str] = set()
    account_blocked = False
    for resource in args.resources:
        flag = as_flag(resource.props.get("blockPublicAccess"))
        if resource.resource_type == ACCOUNT_PUBLIC_ACCESS_BLOCK:
            account_blocked = account_blocked or flag is True
        elif resource.resource_type == BUCKET_PUBLIC_ACCESS_BLOCK:
            if flag is True:
                blocked.add(bucket_name(resource))
            else:
                shown = show(resource.props.get("blockPublicAccess"))
                report(f"blockPublicAccess is {shown} for bucket {bucket_name(resource)!r}; set it to true",
                       resource.urn)
    if account_blocked:
        return
    for resource in args.resources:
        if resource.resource_type == BUCKET and bucket_name(resource) not in blocked:
            report(f"bucket {bucket_name(resource)!r} has no public access block: add an "
                   "oss.BucketPublicAccessBlock with blockPublicAccess=true", resource.urn)


OSS_BUCKET_PUBLIC_ACCESS_BLOCKED = StackGuardrail(
    name="oss-bucket-public-access-blocked",
    description=(
        "Every OSS bucket must block public access (per bucket, or account-wide), so neither an ACL nor a bucket "
        "policy written later can open the data set to the internet."
    ),
    severity=Severity.HIGH,
    enforcement_level=EnforcementLevel.MANDATORY,
    remediation_steps="Add an oss.BucketPublicAccessBlock for the bucket with blockPublicAccess=true.",
    applies_to=exact_types(BUCKET, BUCKET_PUBLIC_ACCESS_BLOCK, ACCOUNT_PUBLIC_ACCESS_BLOCK),
    validate=_public_access,
    tags=("oss", "security"),
)


POLICIES: Final[list[Guardrail]] = [
    OSS_BUCKET_PRIVATE,
    OSS_BUCKET_PROTECTED,
    RAM_POLICY_LEAST_PRIVILEGE,
    OSS_BUCKET_ENCRYPTED,
    OSS_BUCKET_PUBLIC_ACCESS_BLOCKED,
]
