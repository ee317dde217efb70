"""Only the hardened dataset bucket and Alluxio's read-only key, as a building block.

``DatasetBucket``'s args are a TypedDict of ``pulumi.Input`` values, so outputs of other resources
can flow in; the key pair comes back as Pulumi secrets.
"""

import pulumi

from ack_alluxio_training.dataset_bucket import DatasetBucket

bucket = DatasetBucket(
    "laion-subset",
    {
        "bucket_name": "vision-laion-subset",
        "region": "cn-shanghai",
        "prefix": "webdataset",
        "read_only": True,
        "versioning": True,
        "protect": True,
        "dataset_size_gib": 800,
    },
)

pulumi.export("ufsUri", bucket.ufs_uri)
pulumi.export("endpoint", bucket.internal_endpoint)
pulumi.export("accessKeyId", bucket.access_key_id)  # a secret
