"""DatasetBucket: the OSS bucket a training dataset lives in, and the key Alluxio reads it with.

The bucket is private, encrypted at rest, blocked from public access and cleans up abandoned
multipart uploads; in production it is versioned, protected and retained on delete, because the
dataset is the one thing here that cannot be recreated by running the program again.

Alluxio 2.9's OSS under-storage authenticates with an AccessKey pair only (no RRSA), so the
component either creates a dedicated RAM user whose policy allows reading (and, for a writable
dataset, writing) this bucket's prefix and nothing else (``components/ram_policy.py``), or passes
on a key pair given as secret config. Both halves of the key leave this component as Pulumi
secrets; the Kubernetes Secret that carries them to Alluxio belongs to AlluxioCache.
"""

from typing import Any, Final, Required, TypedDict

import pulumi
from pulumi_alicloud import oss, ram

from ack_alluxio_training import ram_policy
from ack_alluxio_training.conventions import DATASET_SIZE_TAG, REGION_TAG
from ack_alluxio_training.settings import PROJECT, DatasetSettings, PlatformSettings

TYPE_TOKEN: Final = f"{PROJECT}:index:DatasetBucket"
ACCESS_KEY_ID_CONFIG_KEY: Final = "ossAccessKeyId"
ACCESS_KEY_SECRET_CONFIG_KEY: Final = "ossAccessKeySecret"
#: Days after which an unfinished multipart upload is aborted (its parts are billed until then).
DEFAULT_ABORT_MULTIPART_DAYS: Final = 7
SSE_AES256: Final = "AES256"
SSE_KMS: Final = "KMS"


class DatasetBucketArgs(TypedDict, total=False):
    """Arguments of :class:`DatasetBucket`."""

    bucket_name: Required[pulumi.Input[str]]
    """OSS bucket name (globally unique)."""
    region: Required[pulumi.Input[str]]
    """Region of the bucket; Alluxio reads it over this region's internal endpoint."""
    prefix: pulumi.Input[str]
    """Key prefix of the dataset; the Alluxio mount and the RAM policy are limited to it."""
    read_only: pulumi.Input[bool]
    """Training only reads: the created key gets no write actions (default true)."""
    kms_key_id: pulumi.Input[str]
    """KMS key for SSE-KMS; AES256 server-side encryption when unset."""
    access_key_id: pulumi.Input[str]
    """An existing key's id (with ``access_key_secret``); when both are unset a RAM user and key are created."""
    access_key_secret: pulumi.Input[str]
    """An existing key's secret (kept a secret)."""
    versioning: bool
    """Keep object versions (on in prod), so an overwritten or deleted shard can be restored."""
    protect: bool
    """Protect the bucket and retain it on delete (on in prod); cannot be combined with force_destroy."""
    force_destroy: bool
    """Let ``pulumi destroy`` delete a bucket that still holds objects (dev convenience; never in prod)."""
    abort_multipart_upload_days: pulumi.Input[int]
    """Days after which unfinished multipart uploads are aborted (default 7)."""
    dataset_size_gib: pulumi.Input[float]
    """Size of the dataset; tagged on the bucket so policies can check the cache holds it (row 13)."""
    tags: pulumi.Input[dict[str, pulumi.Input[str]]]
    """More tags on the bucket."""


def ufs_uri(bucket: str, prefix: str = "") -> str:
    """Alluxio's under-storage URI: ``oss://<bucket>/<prefix>/``, or ``oss://<bucket>/`` with no prefix."""
    prefix = prefix.strip("/")
    return f"oss://{bucket}/{prefix}/" if prefix else f"oss://{bucket}/"


def internal_endpoint(region: str) -> str:
    """OSS endpoint reachable from inside the region's VPCs (no Internet traffic, no egress fee)."""
    return f"oss-{region}-internal.aliyuncs.com"


def _bucket_tags(args: DatasetBucketArgs) -> pulumi.Output[dict[str, str]]:
    """The caller's tags plus the facts the policy pack reads: the bucket's region and the dataset's size."""
    size = args.get("dataset_size_gib")

    def merge(values: list[Any]) -> dict[str, str]:
        extra, region, size_gib = values
        facts = {REGION_TAG: str(region)}
        if size_gib is not None:
            facts[DATASET_SIZE_TAG] = f"{size_gib:g}"
        return {**{key: str(value) for key, value in (extra or {}).items()}, **facts}

    return pulumi.Output.all(args.get("tags"), args["region"], size).apply(merge)


def _argument_problems(args: DatasetBucketArgs) -> list[str]:
    problems = []
    if args.get("protect") and args.get("force_destroy"):
        problems.append("force_destroy cannot be combined with protect: a protected dataset is never emptied")
    if ("access_key_id" in args) != ("access_key_secret" in args):
        problems.append("give both access_key_id and access_key_secret, or neither (a key is then created)")
    return problems


class DatasetBucket(pulumi.ComponentResource):
    """A private, encrypted OSS dataset bucket and a least-privilege key to read it."""

    bucket_name: pulumi.Output[str]
    """Name of the bucket."""
    ufs_uri: pulumi.Output[str]
    """Alluxio's under-storage URI of the dataset: oss://<bucket>/<prefix>/."""
    internal_endpoint: pulumi.Output[str]
    """Region-internal OSS endpoint the cluster reads the bucket through."""
    access_key_id: pulumi.Output[str]
    """Access key id Alluxio reads the dataset with (a secret)."""
    access_key_secret: pulumi.Output[str]
    """Its secret (a secret)."""

    def __init__(self, name: str, args: DatasetBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        problems = _argument_problems(args)
        if problems:
            raise ValueError(f"DatasetBucket {name!r}: " + "; ".join(problems))
        super().__init__(TYPE_TOKEN, name, {}, opts)
        protect = bool(args.get("protect", False))
        prefix = pulumi.Output.from_input(args.get("prefix", "")).apply(lambda p: p.strip("/"))

        self.bucket: oss.Bucket = self._create_bucket(name, args, protect)
        self._secure_bucket(name, args)
        self.bucket_name = self.bucket.bucket
        self.ufs_uri = pulumi.Output.all(self.bucket_name, prefix).apply(lambda v: ufs_uri(v[0], v[1]))
        self.internal_endpoint = pulumi.Output.from_input(args["region"]).apply(internal_endpoint)

        self.reader_user: ram.User | None = None
        self.reader_policy: ram.Policy | None = None
        if "access_key_id" in args:
            self.access_key_id = pulumi.Output.secret(args["access_key_id"])
            self.access_key_secret = pulumi.Output.secret(args["access_key_secret"])
        else:
            self._create_reader_key(name, args, prefix)

        self.register_outputs(
            {
                "bucketName": self.bucket_name,
                "ufsUri": self.ufs_uri,
                "internalEndpoint": self.internal_endpoint,
                "accessKeyId": self.access_key_id,
                "accessKeySecret": self.access_key_secret,
            }
        )

    def _create_bucket(self, name: str, args: DatasetBucketArgs, protect: bool) -> oss.Bucket:
        """The bucket; ACL, encryption, public-access block and versioning are resources of their own."""
        abort_rule = oss.BucketLifecycleRuleArgs(
            id="abort-stale-multipart-uploads",
            enabled=True,
            abort_multipart_uploads=[
                oss.BucketLifecycleRuleAbortMultipartUploadArgs(
                    days=args.get("abort_multipart_upload_days", DEFAULT_ABORT_MULTIPART_DAYS)
                )
            ],
        )
        return oss.Bucket(
            f"{name}-bucket",
            bucket=args["bucket_name"],
            storage_class="Standard",
            force_destroy=bool(args.get("force_destroy", False)),
            lifecycle_rules=[abort_rule],
            tags=_bucket_tags(args),
            opts=pulumi.ResourceOptions(parent=self, protect=protect, retain_on_delete=protect),
        )

    def _secure_bucket(self, name: str, args: DatasetBucketArgs) -> None:
        """Bucket settings as children of the bucket, so a protected bucket protects them too.

        Losing one of them silently (the public-access block above all) would be worse than a
        failed update, which is why they inherit the bucket's protection.
        """
        child = pulumi.ResourceOptions(parent=self.bucket)
        bucket = self.bucket.bucket
        oss.BucketAcl(f"{name}-acl", bucket=bucket, acl="private", opts=child)
        oss.BucketPublicAccessBlock(f"{name}-public-access-block", bucket=bucket, block_public_access=True, opts=child)
        kms_key_id = args.get("kms_key_id")
        oss.BucketServerSideEncryption(
            f"{name}-encryption",
            bucket=bucket,
            sse_algorithm=SSE_KMS if kms_key_id else SSE_AES256,
            kms_master_key_id=kms_key_id,
            opts=child,
        )
        if args.get("versioning", False):
            oss.BucketVersioning(f"{name}-versioning", bucket=bucket, status="Enabled", opts=child)

    def _create_reader_key(self, name: str, args: DatasetBucketArgs, prefix: pulumi.Output[str]) -> None:
        """A RAM user that may only use this dataset, its policy, and an AccessKey (a secret)."""
        read_only = pulumi.Output.from_input(args.get("read_only", True))
        facts = pulumi.Output.all(self.bucket_name, prefix, read_only)
        self.reader_user = ram.User(
            f"{name}-reader",
            name=self.bucket_name.apply(ram_policy.dataset_user_name),
            comments="Alluxio's key to one dataset bucket (managed by ack-alluxio-training)",
            force=True,  # deleting the user also deletes its keys and detaches its policy
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.reader_policy = ram.Policy(
            f"{name}-reader-policy",
            policy_name=facts.apply(lambda v: ram_policy.dataset_policy_name(v[0], read_only=v[2])),
            policy_document=facts.apply(lambda v: ram_policy.dataset_policy_json(v[0], v[1], read_only=v[2])),
            description="Least-privilege OSS access to one dataset prefix for Alluxio",
            force=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        attachment = ram.UserPolicyAttachment(
            f"{name}-reader-policy-attachment",
            user_name=self.reader_user.name,
            policy_name=self.reader_policy.policy_name,
            policy_type="Custom",
            opts=pulumi.ResourceOptions(parent=self),
        )
        # The key is handed out only once its permissions are attached, so its first use works.
        key = ram.AccessKey(
            f"{name}-reader-key",
            user_name=self.reader_user.name,
            status="Active",
            opts=pulumi.ResourceOptions(parent=self, depends_on=[attachment], additional_secret_outputs=["secret"]),
        )
        self.access_key_id = pulumi.Output.secret(key.id)
        self.access_key_secret = pulumi.Output.secret(key.secret)


def dataset_bucket_args(settings: PlatformSettings, dataset: DatasetSettings) -> DatasetBucketArgs:
    """Map one dataset's settings onto the bucket's args; prod gets versioning and protection."""
    production = settings.is_production
    args = DatasetBucketArgs(
        bucket_name=dataset.bucket,
        region=dataset.region or settings.region,
        prefix=dataset.prefix,
        read_only=dataset.read_only,
        versioning=production,
        protect=production,
        force_destroy=not production,
        dataset_size_gib=dataset.size_gib,
        tags={"ack-alluxio-training/dataset": dataset.name, "ack-alluxio-training/environment": settings.environment},
    )
    if dataset.kms_key_id:
        args["kms_key_id"] = dataset.kms_key_id
    if dataset.credentials == "existing":
        config = pulumi.Config(PROJECT)
        args["access_key_id"] = config.require_secret(ACCESS_KEY_ID_CONFIG_KEY)
        args["access_key_secret"] = config.require_secret(ACCESS_KEY_SECRET_CONFIG_KEY)
    return args


__all__ = [
    "TYPE_TOKEN",
    "DatasetBucket",
    "DatasetBucketArgs",
    "dataset_bucket_args",
    "internal_endpoint",
    "ufs_uri",
]
