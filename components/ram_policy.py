"""Least-privilege RAM policy for the key Alluxio uses to read (or write) one dataset in OSS.

Alluxio 2.9's OSS under-storage has no RRSA support (docs/alluxio-credentials.md), so it holds an AccessKey pair;
that key may do only what the UFS calls need, on one bucket and one prefix:

* listing (``ListObjects``, restricted to the prefix with the ``oss:Prefix`` condition),
* reading objects: ``GetObject`` also authorises ``HeadObject``/``GetObjectMeta``, which is how
  Alluxio stats a file,
* ``GetBucketInfo`` so a mount can check the bucket and its region,
* and, for a writable dataset only: ``PutObject`` (which also authorises the multipart initiate,
  upload-part and complete calls and the target of a copy, Alluxio's rename), ``DeleteObject``,
  ``AbortMultipartUpload``/``ListParts`` and ``ListMultipartUploads`` for the UFS clean-up of stale
  uploads.

Pure functions, so the policy pack can check an attached policy against the same action lists.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

#: Actions on the bucket itself a read-only dataset key needs.
READ_BUCKET_ACTIONS: Final = ("oss:ListObjects", "oss:GetBucketInfo")
#: Actions on the dataset's objects a read-only dataset key needs.
READ_OBJECT_ACTIONS: Final = ("oss:GetObject",)
#: Extra bucket actions of a writable dataset key.
WRITE_BUCKET_ACTIONS: Final = ("oss:ListMultipartUploads",)
#: Extra object actions of a writable dataset key.
WRITE_OBJECT_ACTIONS: Final = ("oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload", "oss:ListParts")

POLICY_VERSION: Final = "1"
_RAM_USER_NAME_MAX: Final = 64


def allowed_actions(read_only: bool) -> frozenset[str]:
    """Every action a dataset key may hold; anything else (``oss:*`` above all) is excess."""
    actions = set(READ_BUCKET_ACTIONS) | set(READ_OBJECT_ACTIONS)
    if not read_only:
        actions |= set(WRITE_BUCKET_ACTIONS) | set(WRITE_OBJECT_ACTIONS)
    return frozenset(actions)


def bucket_arn(bucket: str) -> str:
    """RAM resource of a bucket (region and account left to ``*``: bucket names are global)."""
    return f"acs:oss:*:*:{bucket}"


def objects_arn(bucket: str, prefix: str = "") -> str:
    """RAM resource of the objects under a prefix (the whole bucket when the prefix is empty)."""
    prefix = prefix.strip("/")
    return f"acs:oss:*:*:{bucket}/{prefix}/*" if prefix else f"acs:oss:*:*:{bucket}/*"


def _list_statement(bucket: str, prefix: str) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": ["oss:ListObjects"], "Resource": [bucket_arn(bucket)]}
    if prefix:
        # Listing is a bucket action: without this condition the key could list every key name.
        # Alluxio lists with the directory key plus "/", so "<prefix>/" and below are enough.
        statement["Condition"] = {"StringLike": {"oss:Prefix": [f"{prefix}/", f"{prefix}/*"]}}
    return statement


def dataset_policy_document(bucket: str, prefix: str = "", *, read_only: bool = True) -> dict[str, Any]:
    """The RAM policy document for one dataset: read (and write, if not read-only) under a prefix.

    The other bucket actions take no ``oss:Prefix`` condition, so they get a statement of their own.
    """
    prefix = prefix.strip("/")
    bucket_actions: tuple[str, ...] = tuple(a for a in READ_BUCKET_ACTIONS if a != "oss:ListObjects")
    object_actions: tuple[str, ...] = READ_OBJECT_ACTIONS
    if not read_only:
        bucket_actions += WRITE_BUCKET_ACTIONS
        object_actions += WRITE_OBJECT_ACTIONS
    statements = [
        _list_statement(bucket, prefix),
        {"Effect": "Allow", "Action": list(bucket_actions), "Resource": [bucket_arn(bucket)]},
        {"Effect": "Allow", "Action": list(object_actions), "Resource": [objects_arn(bucket, prefix)]},
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def dataset_policy_json(bucket: str, prefix: str = "", *, read_only: bool = True) -> str:
    """The policy document as the JSON text ``ram.Policy.policy_document`` takes (stable key order)."""
    return json.dumps(dataset_policy_document(bucket, prefix, read_only=read_only), sort_keys=True)


def dataset_policy_name(bucket: str, read_only: bool = True) -> str:
    """RAM policy name for a dataset bucket (letters, digits and dashes; bucket names fit in 128)."""
    return f"alluxio-oss-{bucket}-{'read' if read_only else 'readwrite'}"


def dataset_user_name(bucket: str) -> str:
    """RAM user name for a dataset bucket, at most 64 characters (long names keep a hash suffix)."""
    name = f"alluxio-oss-{bucket}"
    if len(name) <= _RAM_USER_NAME_MAX:
        return name
    digest = hashlib.sha256(bucket.encode()).hexdigest()[:8]
    return f"{name[: _RAM_USER_NAME_MAX - len(digest) - 1]}-{digest}"


def granted_actions(document: dict[str, Any]) -> frozenset[str]:
    """All actions a policy document allows (for the policy pack's excess-privilege check)."""
    actions: set[str] = set()
    for statement in document.get("Statement", []):
        if statement.get("Effect") != "Allow":
            continue
        value = statement.get("Action", [])
        actions |= {value} if isinstance(value, str) else set(value)
    return frozenset(actions)
