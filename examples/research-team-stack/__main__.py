"""A research team's stack: the whole tuned platform, configured in Python instead of stack YAML.

The settings model validates exactly as the stack config does (errors name the field), and every
tuning value not given here is the study's default.
"""

import pulumi

from ack_alluxio_training.platform import TrainingPlatform, export_platform_outputs
from ack_alluxio_training.settings import PlatformSettings

settings = PlatformSettings.model_validate(
    {
        "environment": "staging",
        "region": "cn-hangzhou",
        "cluster": {"mode": "adopt", "clusterId": "c9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
        "nodePool": {
            "name": "a10-pool",
            "instanceTypes": ["ecs.gn7i-c32g1.32xlarge"],  # 4 x A10, 128 vCPU, 752 GiB (checked against the table)
            "gpusPerNode": 4,
            "cpuPerNode": 128,
            "memoryGibPerNode": 752,
            "desiredSize": 2,
            "vswitchIds": ["vsw-research0000000000001"],
        },
        "datasets": [
            {
                "name": "imagenet",
                "bucket": "research-imagenet",
                "prefix": "tfrecords",
                "sizeGib": 144,
                "fileCount": 1152,
            },
            {"name": "coco", "bucket": "research-coco", "prefix": "train2017", "sizeGib": 19, "fileCount": 118287},
        ],
        "cache": {"quotaPerNode": "90Gi"},
        "alluxio": {"worker": {"cpu": "8", "memory": "110Gi"}},
        "fuse": {"resources": {"cpu": "8", "memory": "24Gi"}},
        "jobs": [
            {
                "name": "detr-coco",
                "backend": "pytorchjob",
                "dataset": "coco",
                "image": "pytorch/pytorch:2.4.1-cuda12.1-cudnn9-runtime",
                "command": ["torchrun", "--nproc-per-node=4", "/workspace/train.py", "--data", "$(DATA_DIR)"],
                "workers": 2,
                "gpusPerWorker": 4,
                "resources": {"cpu": "48", "memory": "160Gi"},
                "readerThreads": 32,
                "shmSize": "32Gi",
            }
        ],
    }
)

platform = TrainingPlatform("research", settings)
export_platform_outputs(platform)
pulumi.export("fuseMaxIdleThreads", platform.fuse.max_idle_threads)
