"""DatasetBucket: private, encrypted, kept in prod; a least-privilege key that never leaks."""

from __future__ import annotations

import copy
import json
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from ack_alluxio_training import ram_policy
from ack_alluxio_training.conventions import DATASET_SIZE_TAG, REGION_TAG
from ack_alluxio_training.dataset_bucket import DatasetBucket, DatasetBucketArgs, dataset_bucket_args, ufs_uri
from ack_alluxio_training.offline.mock_engine import (
    SECRET_SIG,
    PlanResult,
    RecordedResource,
    redact_secrets,
    run_program,
)
from ack_alluxio_training.offline.stack_config import (
    OFFLINE_SECRET_PLACEHOLDER,
    STACKS_DIR,
    StackConfig,
    config_from_mapping,
)
from ack_alluxio_training.settings import PROJECT, SettingsError, settings_from_config

BUCKET = "alicloud:oss/bucket:Bucket"
ACL = "alicloud:oss/bucketAcl:BucketAcl"
SSE = "alicloud:oss/bucketServerSideEncryption:BucketServerSideEncryption"
PUBLIC_BLOCK = "alicloud:oss/bucketPublicAccessBlock:BucketPublicAccessBlock"
VERSIONING = "alicloud:oss/bucketVersioning:BucketVersioning"
RAM_USER = "alicloud:ram/user:User"
RAM_POLICY = "alicloud:ram/policy:Policy"
ATTACHMENT = "alicloud:ram/userPolicyAttachment:UserPolicyAttachment"
ACCESS_KEY = "alicloud:ram/accessKey:AccessKey"
OUTPUTS = ("bucket_name", "ufs_uri", "internal_endpoint", "access_key_id", "access_key_secret")


def stack_config(stack: str, dataset: dict[str, Any] | None = None, **extra: Any) -> StackConfig:
    """A stack's config with its first dataset's keys replaced, plus extra top-level keys."""
    raw = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())["config"]
    key = f"{PROJECT}:datasets"
    raw[key] = copy.deepcopy(raw[key])
    raw[key][0].update(dataset or {})
    raw.update(extra)
    return config_from_mapping(stack, raw)


def plan_stack(config: StackConfig, *, consume: bool = False) -> PlanResult:
    """Run the bucket as the platform builds it; ``consume`` also puts its key in a Kubernetes Secret."""

    def program() -> None:
        settings = settings_from_config(config.values, config.secret_keys)
        bucket = DatasetBucket("data", dataset_bucket_args(settings, settings.datasets[0]))
        for name in OUTPUTS:
            pulumi.export(name, getattr(bucket, name))
        if consume:  # what AlluxioCache does with the key
            provider = k8s.Provider("cluster", kubeconfig=pulumi.Output.secret("apiVersion: v1"))
            k8s.core.v1.Secret(
                "oss-credentials",
                metadata={"namespace": "alluxio"},
                string_data={"accessKeyId": bucket.access_key_id, "accessKeySecret": bucket.access_key_secret},
                opts=pulumi.ResourceOptions(provider=provider),
            )

    return run_program(config, program)


def plan_args(**args: Any) -> PlanResult:
    def program() -> None:
        DatasetBucket("data", DatasetBucketArgs(bucket_name="my-data", region="cn-hangzhou", **args))  # type: ignore[typeddict-item]

    return run_program(config_from_mapping("dev", {}), program)


def only(result: PlanResult, token: str) -> RecordedResource:
    matches = result.by_type(token)
    assert len(matches) == 1, [r.name for r in matches]
    return matches[0]


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


# --- the bucket ----------------------------------------------------------------------------------


def test_bucket_is_private_encrypted_and_blocked_from_public_access() -> None:
    result = plan_stack(stack_config("dev"))
    bucket = only(result, BUCKET)
    assert bucket.inputs["bucket"] == "acme-dev-imagenet-subset"
    assert "acl" not in bucket.inputs  # deprecated on the bucket; the BucketAcl resource owns it
    for token in (ACL, SSE, PUBLIC_BLOCK):
        assert only(result, token).inputs["bucket"] == "acme-dev-imagenet-subset"
    assert only(result, ACL).inputs["acl"] == "private"
    assert only(result, PUBLIC_BLOCK).inputs["blockPublicAccess"] is True
    assert only(result, SSE).inputs["sseAlgorithm"] == "AES256"
    assert "kmsMasterKeyId" not in only(result, SSE).inputs


def test_kms_key_switches_encryption_to_kms() -> None:
    sse = only(plan_stack(stack_config("dev", {"kmsKeyId": "key-abc123"})), SSE)
    assert sse.inputs["sseAlgorithm"] == "KMS"
    assert sse.inputs["kmsMasterKeyId"] == "key-abc123"


def test_stale_multipart_uploads_are_aborted() -> None:
    rules = only(plan_stack(stack_config("dev")), BUCKET).inputs["lifecycleRules"]
    abort = [rule for rule in rules if rule.get("abortMultipartUploads")]
    assert len(abort) == 1 and abort[0]["enabled"] is True
    assert abort[0]["abortMultipartUploads"] == [{"days": 7}]
    assert not abort[0].get("expirations")  # the rule never deletes dataset objects


def test_prod_bucket_is_protected_retained_and_versioned() -> None:
    result = plan_stack(stack_config("prod"))
    bucket = only(result, BUCKET)
    assert bucket.protect and bucket.retain_on_delete
    assert bucket.inputs["forceDestroy"] is False
    assert only(result, VERSIONING).inputs["status"] == "Enabled"
    for token in (ACL, SSE, PUBLIC_BLOCK, VERSIONING):  # the bucket's safeguards cannot be dropped quietly
        assert only(result, token).protect


def test_dev_bucket_can_be_torn_down() -> None:
    result = plan_stack(stack_config("dev"))
    bucket = only(result, BUCKET)
    assert not bucket.protect and not bucket.retain_on_delete
    assert bucket.inputs["forceDestroy"] is True
    assert not result.by_type(VERSIONING)


def test_protected_bucket_cannot_be_force_destroyed() -> None:
    def program() -> None:
        with pytest.raises(ValueError, match="force_destroy cannot be combined with protect"):
            args = DatasetBucketArgs(bucket_name="b-1", region="cn-beijing", protect=True, force_destroy=True)
            DatasetBucket("d", args)

    assert not run_program(config_from_mapping("dev", {}), program).resources


# --- what Alluxio mounts -------------------------------------------------------------------------


def test_outputs_name_the_ufs_and_the_internal_endpoint() -> None:
    outputs = plan_stack(stack_config("prod")).outputs
    assert outputs["bucket_name"] == "acme-prod-imagenet"
    assert outputs["ufs_uri"] == "oss://acme-prod-imagenet/tfrecords/"
    assert outputs["internal_endpoint"] == "oss-cn-beijing-internal.aliyuncs.com"


def test_dataset_without_prefix_mounts_the_bucket_root() -> None:
    assert plan_stack(stack_config("prod", {"prefix": ""})).outputs["ufs_uri"] == "oss://acme-prod-imagenet/"


segments = st.lists(st.from_regex(r"[A-Za-z0-9_.=-]{1,8}", fullmatch=True), max_size=3)


@given(
    bucket=st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True),
    parts=segments,
    lead=st.sampled_from(["", "/"]),
    trail=st.sampled_from(["", "/"]),
)
def test_ufs_uri_is_always_a_directory_of_the_bucket(bucket: str, parts: list[str], lead: str, trail: str) -> None:
    prefix = "/".join(parts)
    uri = ufs_uri(bucket, f"{lead}{prefix}{trail}")
    assert uri == (f"oss://{bucket}/{prefix}/" if prefix else f"oss://{bucket}/")


def test_bucket_declares_its_region_and_dataset_size() -> None:
    tags = only(plan_stack(stack_config("prod")), BUCKET).inputs["tags"]
    assert tags[REGION_TAG] == "cn-beijing"
    assert tags[DATASET_SIZE_TAG] == "144"
    assert only(plan_stack(stack_config("prod", {"sizeGib": 12.5})), BUCKET).inputs["tags"][DATASET_SIZE_TAG] == "12.5"


def test_bucket_region_must_be_the_stack_region() -> None:
    mismatch = stack_config("prod", {"region": "cn-shanghai"})
    with pytest.raises(SettingsError, match=r"datasets\[0\]\.region"):
        settings_from_config(mismatch.values, mismatch.secret_keys)
    same = plan_stack(stack_config("prod", {"region": "cn-beijing"}))
    assert same.outputs["internal_endpoint"] == "oss-cn-beijing-internal.aliyuncs.com"


# --- the key -------------------------------------------------------------------------------------


def test_created_key_may_only_read_the_dataset_prefix() -> None:
    result = plan_stack(stack_config("prod"))
    policy = only(result, RAM_POLICY)
    document = json.loads(policy.inputs["policyDocument"])
    assert document == ram_policy.dataset_policy_document("acme-prod-imagenet", "tfrecords", read_only=True)
    assert ram_policy.granted_actions(document) == {"oss:ListObjects", "oss:GetBucketInfo", "oss:GetObject"}


def test_writable_dataset_key_may_also_write_the_prefix() -> None:
    policy = only(plan_stack(stack_config("prod", {"readOnly": False})), RAM_POLICY)
    document = json.loads(policy.inputs["policyDocument"])
    assert document == ram_policy.dataset_policy_document("acme-prod-imagenet", "tfrecords", read_only=False)
    assert "oss:PutObject" in ram_policy.granted_actions(document)
    assert policy.inputs["policyName"] != only(plan_stack(stack_config("prod")), RAM_POLICY).inputs["policyName"]


def test_policy_is_attached_to_the_keys_user_before_the_key_is_issued() -> None:
    result = plan_stack(stack_config("prod"))
    user, policy, attachment, key = (only(result, t) for t in (RAM_USER, RAM_POLICY, ATTACHMENT, ACCESS_KEY))
    assert attachment.inputs == {
        "userName": user.inputs["name"],
        "policyName": policy.inputs["policyName"],
        "policyType": "Custom",
    }
    assert key.inputs["userName"] == user.inputs["name"]
    assert attachment.urn in key.dependencies
    assert "secret" in key.additional_secret_outputs


def test_created_key_is_secret_in_every_output_and_every_consumer() -> None:
    result = plan_stack(stack_config("prod"), consume=True)
    assert is_secret(result.outputs["access_key_id"]) and is_secret(result.outputs["access_key_secret"])
    for name in ("bucket_name", "ufs_uri", "internal_endpoint"):
        assert not is_secret(result.outputs[name])
    consumer = result.named("oss-credentials")
    assert consumer.secret_input_paths == ["stringData"]
    key_secret = result.outputs["access_key_secret"]["value"]
    assert consumer.inputs["stringData"]["accessKeySecret"] == key_secret
    for resource in result.resources:  # nowhere in the clear, not even in a redacted export
        assert key_secret not in json.dumps(redact_secrets(resource.raw_inputs))


def test_existing_key_comes_from_secret_config_and_creates_no_ram_user() -> None:
    config = stack_config("prod", {"credentials": "existing"})
    result = plan_stack(config, consume=True)
    for token in (RAM_USER, RAM_POLICY, ATTACHMENT, ACCESS_KEY):
        assert not result.by_type(token)
    for name in ("access_key_id", "access_key_secret"):
        assert is_secret(result.outputs[name])
        assert result.outputs[name]["value"] == OFFLINE_SECRET_PLACEHOLDER
    assert result.named("oss-credentials").secret_input_paths == ["stringData"]


def test_existing_key_given_in_the_clear_is_refused() -> None:
    config = stack_config("prod", {"credentials": "existing"})
    values = dict(config.values, **{f"{PROJECT}:ossAccessKeySecret": "plaintext"})
    secret_keys = config.secret_keys - {f"{PROJECT}:ossAccessKeySecret"}
    with pytest.raises(SettingsError, match="ossAccessKeySecret: must be set as a secret"):
        settings_from_config(values, secret_keys)


def test_key_pair_is_given_whole_or_not_at_all() -> None:
    def program() -> None:
        with pytest.raises(ValueError, match="both access_key_id and access_key_secret"):
            DatasetBucket("d", DatasetBucketArgs(bucket_name="b-1", region="cn-beijing", access_key_id="LTAI"))

    assert not run_program(config_from_mapping("dev", {}), program).resources


def test_component_used_alone_defaults_to_a_read_only_key_on_the_whole_bucket() -> None:
    result = plan_args()
    document = json.loads(only(result, RAM_POLICY).inputs["policyDocument"])
    assert document == ram_policy.dataset_policy_document("my-data", "", read_only=True)
    assert not only(result, BUCKET).protect
    assert only(result, BUCKET).inputs["forceDestroy"] is False
