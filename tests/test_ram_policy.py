"""The dataset key's RAM policy: exactly the OSS actions Alluxio's UFS needs, on one bucket prefix."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ack_alluxio_training import ram_policy

BUCKET = "acme-prod-imagenet"


def statements_by_action(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each allowed action -> the statement granting it (every action is granted exactly once)."""
    found: dict[str, dict[str, Any]] = {}
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        for action in statement["Action"]:
            assert action not in found, f"{action} granted twice"
            found[action] = statement
    return found


def test_read_only_policy_lists_and_reads_the_prefix_only() -> None:
    document = ram_policy.dataset_policy_document(BUCKET, "tfrecords", read_only=True)
    grants = statements_by_action(document)
    assert document["Version"] == "1"
    assert set(grants) == {"oss:ListObjects", "oss:GetBucketInfo", "oss:GetObject"}
    assert grants["oss:GetObject"]["Resource"] == ["acs:oss:*:*:acme-prod-imagenet/tfrecords/*"]
    assert grants["oss:ListObjects"]["Resource"] == ["acs:oss:*:*:acme-prod-imagenet"]
    assert grants["oss:ListObjects"]["Condition"] == {"StringLike": {"oss:Prefix": ["tfrecords/", "tfrecords/*"]}}
    assert grants["oss:GetBucketInfo"]["Resource"] == ["acs:oss:*:*:acme-prod-imagenet"]
    assert "Condition" not in grants["oss:GetBucketInfo"]


def test_writable_policy_adds_writes_on_the_same_prefix() -> None:
    document = ram_policy.dataset_policy_document(BUCKET, "tfrecords", read_only=False)
    grants = statements_by_action(document)
    assert set(grants) == {
        "oss:ListObjects",
        "oss:GetBucketInfo",
        "oss:ListMultipartUploads",
        "oss:GetObject",
        "oss:PutObject",
        "oss:DeleteObject",
        "oss:AbortMultipartUpload",
        "oss:ListParts",
    }
    for action in ("oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload", "oss:ListParts"):
        assert grants[action]["Resource"] == ["acs:oss:*:*:acme-prod-imagenet/tfrecords/*"]
    assert grants["oss:ListMultipartUploads"]["Resource"] == ["acs:oss:*:*:acme-prod-imagenet"]


def test_read_only_policy_holds_no_write_action() -> None:
    granted = ram_policy.granted_actions(ram_policy.dataset_policy_document(BUCKET, "x", read_only=True))
    assert not granted & {"oss:PutObject", "oss:DeleteObject", "oss:AbortMultipartUpload", "oss:ListMultipartUploads"}


def test_no_prefix_means_the_whole_bucket_without_a_list_condition() -> None:
    grants = statements_by_action(ram_policy.dataset_policy_document(BUCKET, "", read_only=True))
    assert grants["oss:GetObject"]["Resource"] == ["acs:oss:*:*:acme-prod-imagenet/*"]
    assert "Condition" not in grants["oss:ListObjects"]


def test_prefix_slashes_do_not_change_the_policy() -> None:
    plain = ram_policy.dataset_policy_json(BUCKET, "a/b")
    assert ram_policy.dataset_policy_json(BUCKET, "/a/b/") == plain
    assert json.loads(plain) == ram_policy.dataset_policy_document(BUCKET, "a/b")


def test_allowed_actions_match_what_the_documents_grant() -> None:
    for read_only in (True, False):
        document = ram_policy.dataset_policy_document(BUCKET, "p", read_only=read_only)
        assert ram_policy.granted_actions(document) == ram_policy.allowed_actions(read_only)
    assert ram_policy.allowed_actions(True) < ram_policy.allowed_actions(False)


def test_granted_actions_reads_string_actions_and_skips_denies() -> None:
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": "oss:*", "Resource": "*"},
            {"Effect": "Deny", "Action": ["oss:DeleteBucket"], "Resource": "*"},
        ]
    }
    assert ram_policy.granted_actions(document) == {"oss:*"}


def test_names_fit_ram_limits_and_stay_distinct() -> None:
    long_a = "a" * 60 + "-x1"
    long_b = "a" * 60 + "-x2"
    assert len(ram_policy.dataset_user_name(long_a)) <= 64
    assert ram_policy.dataset_user_name(long_a) != ram_policy.dataset_user_name(long_b)
    assert ram_policy.dataset_user_name(BUCKET) == "alluxio-oss-acme-prod-imagenet"
    assert ram_policy.dataset_policy_name(BUCKET, read_only=True) != ram_policy.dataset_policy_name(BUCKET, False)


bucket_names = st.from_regex(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]", fullmatch=True)
prefixes = st.lists(st.from_regex(r"[A-Za-z0-9_.=-]{1,12}", fullmatch=True), max_size=3).map("/".join)


@given(bucket=bucket_names, prefix=prefixes, read_only=st.booleans())
def test_every_grant_stays_inside_the_bucket_and_prefix(bucket: str, prefix: str, read_only: bool) -> None:
    document = ram_policy.dataset_policy_document(bucket, prefix, read_only=read_only)
    objects = f"acs:oss:*:*:{bucket}/{prefix}/*" if prefix else f"acs:oss:*:*:{bucket}/*"
    for statement in document["Statement"]:
        for resource in statement["Resource"]:
            assert resource in (f"acs:oss:*:*:{bucket}", objects)
        assert not any(action.endswith("*") for action in statement["Action"])
    assert ram_policy.granted_actions(document) <= ram_policy.allowed_actions(read_only)
    assert re.fullmatch(r"[A-Za-z0-9.@_-]{1,64}", ram_policy.dataset_user_name(bucket))
    assert re.fullmatch(r"[A-Za-z0-9-]{1,128}", ram_policy.dataset_policy_name(bucket, read_only))
