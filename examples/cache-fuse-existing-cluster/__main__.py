"""Cache + FUSE + one training job on a cluster and an OSS bucket that already exist.

Everything the team knows goes in (the dataset's size and file count, the GPUs per node, the cache
quota it can afford, the job's reader threads); the components derive every tuning row from it.

Prerequisites (not created here): the GPU nodes carry the label ``ack-alluxio-training/role:
gpu-cache`` and the taint ``ack-alluxio-training/gpu=true:NoSchedule`` (or pass your own
node_selector/tolerations); each runs a kernel >= 4.19 (Alibaba Cloud Linux 3/4); the tier's host
path /dev/shm/alluxio-cache exists on every node, owned by uid 1000 (the Alluxio image's user); the
mpi-operator is installed; the access key may read the bucket.
"""

import pulumi

from ack_alluxio_training.alluxio_args import DatasetProfile
from ack_alluxio_training.alluxio_cache import AlluxioCache
from ack_alluxio_training.alluxio_fuse import AlluxioFuse
from ack_alluxio_training.training_job import TrainingJob
from components import team_labels

config = pulumi.Config()
kubeconfig = config.require_secret("kubeconfig")
gpus_per_node = config.require_int("gpusPerNode")
cache_nodes = config.require_int("cacheNodes")

imagenet = DatasetProfile(name="imagenet", size_gib=144, file_count=1152, change_interval="7d")
tier = {"quota_per_node": "40Gi"}
job = {"reader_threads": 16, "workers": cache_nodes, "gpus_per_worker": gpus_per_node}

cache = AlluxioCache(
    "vision-cache",
    {
        "datasets": [
            {
                "profile": imagenet,
                "bucket": config.require("bucket"),
                "prefix": "imagenet/tfrecords",
                "endpoint": config.require("endpoint"),
                "access_key_id": config.require_secret("ossAccessKeyId"),
                "access_key_secret": config.require_secret("ossAccessKeySecret"),
            }
        ],
        "cache_nodes": cache_nodes,
        "tier": tier,
        "kubeconfig": kubeconfig,
    },
)
fuse = AlluxioFuse(
    "vision-fuse",
    {
        "namespace": cache.namespace,
        "master_hostname": cache.master_hostname,
        "datasets": [imagenet],
        "jobs": [job],
        "gpus_per_node": gpus_per_node,
        "tier": tier,
        "kubeconfig": kubeconfig,
    },
    pulumi.ResourceOptions(depends_on=[cache]),
)
resnet = TrainingJob(
    "resnet50",
    {
        "job_name": "resnet50",
        "workers": job["workers"],
        "gpus_per_worker": job["gpus_per_worker"],
        "reader_threads": job["reader_threads"],
        "fuse_mount_point": fuse.mount_point,
        "kubeconfig": kubeconfig,
    },
    pulumi.ResourceOptions(depends_on=[fuse]),
)

pulumi.export("labels", team_labels("vision"))
pulumi.export("masterHostname", cache.master_hostname)
pulumi.export("fuseMaxIdleThreads", fuse.max_idle_threads)
pulumi.export("jobName", resnet.job_name)
