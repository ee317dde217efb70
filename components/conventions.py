"""Names the policies read from deployed resources, so components can declare facts to them.

Some facts a guardrail needs are not visible in a resource's own settings (how big a dataset is,
which kernel a custom image ships). Components state them with these tags, labels and annotations;
the policies read nothing else, so any stack that sets them is checked the same way.
"""

from __future__ import annotations

from typing import Final

#: Tag on ``alicloud:oss/bucket:Bucket``: size of the dataset the bucket holds, in GiB ("144").
#: Row 13 compares the total with the cache capacity.
DATASET_SIZE_TAG: Final = "ack-alluxio-training/dataset-size-gib"

#: Tag on buckets, node pools and clusters: the Alibaba Cloud region ("cn-beijing"). Read when the
#: resource's provider does not state a region (the default provider of an offline plan).
REGION_TAG: Final = "ack-alluxio-training/region"

#: Tag (or node label) on ``alicloud:cs/nodePool:NodePool``: kernel version of a ``Custom`` image
#: ("5.10.134-16.al8"). Row 1 refuses a custom image without it.
KERNEL_VERSION_TAG: Final = "ack-alluxio-training/kernel-version"

#: Tag (or node label) on node pools: GPUs on each node ("8"). Row 3's stack check uses it to work
#: out how many training workers share a node.
GPUS_PER_NODE_TAG: Final = "ack-alluxio-training/gpus-per-node"

#: Annotation on a training pod template: data reader threads in each worker pod ("16"). Row 3's
#: stack check multiplies it by the workers per node and compares with the FUSE threads.
READER_THREADS_ANNOTATION: Final = "ack-alluxio-training/reader-threads"

#: Namespace where privileged FUSE pods may run: the cache's (``AlluxioSettings.namespace``'s
#: default), because chart 0.6.53's FUSE DaemonSet requires pod affinity to the workers of its own
#: namespace. Set the policy's ``fuseNamespaces`` when a stack uses another one.
DEFAULT_FUSE_NAMESPACE: Final = "alluxio"

#: The extended resource GPU pods ask for (NVIDIA device plugin).
GPU_RESOURCE: Final = "nvidia.com/gpu"

#: Where the FUSE release mounts Alluxio on the host (``FuseSettings.mount_point``'s default). Chart
#: 0.6.53 bind-mounts the mount point's parent into the privileged FUSE pod with bidirectional
#: propagation, so the parent is a directory of its own (``/mnt/alluxio``), never the host's ``/mnt``.
DEFAULT_FUSE_MOUNT_POINT: Final = "/mnt/alluxio/fuse"

#: Tag on clusters and node pools: the stack's environment ("prod"). The ``prod-safety-switches``
#: policy treats a stack holding a resource tagged ``prod`` (this tag, or a plain ``environment`` /
#: ``env`` tag) as production, so a foreign stack can declare it the same way.
ENVIRONMENT_TAG: Final = "ack-alluxio-training/environment"

#: The stack config namespace of this project (``ack-alluxio-training:<key>``).
CONFIG_NAMESPACE: Final = "ack-alluxio-training"

#: Prefix of our components' type tokens. A resource whose URN type chain (``Parent$Type``) shows one
#: was made by our components from stack keys, so a policy finding on it names the key to set.
COMPONENT_TYPE_PREFIX: Final = f"{CONFIG_NAMESPACE}:index:"
