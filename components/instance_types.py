"""The shapes of the ECS GPU instance types an ACK node pool can use: GPUs, GPU model, vCPUs, memory.

A node pool's per-node numbers (``gpusPerNode``, ``cpuPerNode``, ``memoryGibPerNode``) size every
job and every Alluxio container; typed by hand they drift from the instance type (8 GPUs declared
on a 1-GPU ``ecs.gn7i-c32g1.8xlarge`` plans fine and never schedules). The settings derive them from
this table and refuse a mismatch; at deploy time the node pool confirms the shape with the
provider's ``alicloud.ecs.getInstanceTypes`` lookup, so a table that fell behind the cloud is
caught before nodes are bought.

Source of every row: Alibaba Cloud ECS documentation, "GPU-accelerated compute-optimized instance
families" (the gn8v, gn8is, gn7e, gn7i, gn7, gn6i, gn6e and gn6v tables: vCPUs, memory in GiB, GPUs
and GPU memory per instance type), as published in 2025-2026. The gn7 and gn8v tables give the GPU
memory but no GPU model name; the model is left as the source states it. Maintaining the table: add
a family's rows from that page, keep the source's numbers, and run the tests (each row must agree
with the instance type's name: ``-<n>x.`` types have n GPUs, ``.<n>xlarge`` types 4n vCPUs except
where the source says otherwise, as for the 82 vCPUs of ``ecs.gn6v-c10g1.20xlarge``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class InstanceShape:
    """What one instance type offers a node: the numbers jobs and the cache are sized against."""

    gpus: int
    gpu_model: str
    gpu_memory_gb: int
    vcpus: int
    memory_gib: int

    def describe(self) -> str:
        """``1 x NVIDIA A10 (24 GB), 32 vCPUs, 188 GiB``."""
        return f"{self.gpus} x {self.gpu_model} ({self.gpu_memory_gb} GB), {self.vcpus} vCPUs, {self.memory_gib} GiB"


def _family(gpu_model: str, gpu_memory_gb: int, rows: dict[str, tuple[int, int, int]]) -> dict[str, InstanceShape]:
    """Rows of one family: instance type -> (vCPUs, memory GiB, GPUs), as the source tables list them."""
    return {
        name: InstanceShape(gpus=gpus, gpu_model=gpu_model, gpu_memory_gb=gpu_memory_gb, vcpus=vcpus, memory_gib=memory)
        for name, (vcpus, memory, gpus) in rows.items()
    }


_V100 = "NVIDIA V100"
_UNNAMED = "GPU (model not named by the source)"

#: instance type -> shape. See the module docstring for the source.
INSTANCE_SHAPES: Final[dict[str, InstanceShape]] = {
    # gn6v: NVIDIA V100 (SXM2) 16 GB, Xeon Platinum 8163.
    **_family(_V100, 16, {
        "ecs.gn6v-c8g1.2xlarge": (8, 32, 1),
        "ecs.gn6v-c8g1.4xlarge": (16, 64, 2),
        "ecs.gn6v-c8g1.8xlarge": (32, 128, 4),
        "ecs.gn6v-c8g1.16xlarge": (64, 256, 8),
        "ecs.gn6v-c10g1.20xlarge": (82, 336, 8),
    }),
    # gn6e: NVIDIA V100 (SXM2) 32 GB.
    **_family(_V100, 32, {
        "ecs.gn6e-c12g1.3xlarge": (12, 92, 1),
        "ecs.gn6e-c12g1.6xlarge": (24, 184, 2),
        "ecs.gn6e-c12g1.12xlarge": (48, 368, 4),
        "ecs.gn6e-c12g1.24xlarge": (96, 736, 8),
    }),
    # gn6i: NVIDIA T4 16 GB.
    **_family("NVIDIA T4", 16, {
        "ecs.gn6i-c4g1.xlarge": (4, 15, 1),
        "ecs.gn6i-c8g1.2xlarge": (8, 31, 1),
        "ecs.gn6i-c16g1.4xlarge": (16, 62, 1),
        "ecs.gn6i-c24g1.6xlarge": (24, 93, 1),
        "ecs.gn6i-c40g1.10xlarge": (40, 155, 1),
        "ecs.gn6i-c24g1.12xlarge": (48, 186, 2),
        "ecs.gn6i-c24g1.24xlarge": (96, 372, 4),
    }),
    # gn7: 40 GB GPUs (the source names no model).
    **_family(_UNNAMED, 40, {
        "ecs.gn7-c12g1.3xlarge": (12, 94, 1),
        "ecs.gn7-c13g1.13xlarge": (52, 378, 4),
        "ecs.gn7-c13g1.26xlarge": (104, 756, 8),
    }),
    # gn7i: NVIDIA A10 24 GB, Xeon Ice Lake.
    **_family("NVIDIA A10", 24, {
        "ecs.gn7i-c8g1.2xlarge": (8, 30, 1),
        "ecs.gn7i-c16g1.4xlarge": (16, 60, 1),
        "ecs.gn7i-c32g1.8xlarge": (32, 188, 1),
        "ecs.gn7i-c32g1.16xlarge": (64, 376, 2),
        "ecs.gn7i-c32g1.32xlarge": (128, 752, 4),
        "ecs.gn7i-c48g1.12xlarge": (48, 310, 1),
        "ecs.gn7i-c56g1.14xlarge": (56, 346, 1),
        "ecs.gn7i-2x.8xlarge": (32, 128, 2),
        "ecs.gn7i-4x.8xlarge": (32, 128, 4),
        "ecs.gn7i-4x.16xlarge": (64, 256, 4),
        "ecs.gn7i-8x.32xlarge": (128, 512, 8),
        "ecs.gn7i-8x.16xlarge": (64, 256, 8),
    }),
    # gn7e: 80 GB GPUs (the source names no model in the table).
    **_family(_UNNAMED, 80, {
        "ecs.gn7e-c16g1.4xlarge": (16, 125, 1),
        "ecs.gn7e-c16g1.8xlarge": (32, 250, 2),
        "ecs.gn7e-c16g1.16xlarge": (64, 500, 4),
        "ecs.gn7e-c16g1.32xlarge": (128, 1000, 8),
    }),
    # gn8is: NVIDIA L20 48 GB (current generation).
    **_family("NVIDIA L20", 48, {
        "ecs.gn8is.2xlarge": (8, 64, 1),
        "ecs.gn8is.4xlarge": (16, 128, 1),
        "ecs.gn8is-2x.8xlarge": (32, 256, 2),
        "ecs.gn8is-4x.16xlarge": (64, 512, 4),
        "ecs.gn8is-8x.32xlarge": (128, 1024, 8),
    }),
    # gn8v: 96 GB HBM3 GPUs with NVLink (current generation; the source names no model).
    **_family(_UNNAMED, 96, {
        "ecs.gn8v.4xlarge": (16, 96, 1),
        "ecs.gn8v.6xlarge": (24, 128, 1),
        "ecs.gn8v-2x.8xlarge": (32, 192, 2),
        "ecs.gn8v-4x.8xlarge": (32, 384, 4),
        "ecs.gn8v-2x.12xlarge": (48, 256, 2),
        "ecs.gn8v-8x.16xlarge": (64, 768, 8),
        "ecs.gn8v-4x.24xlarge": (96, 512, 4),
        "ecs.gn8v-8x.48xlarge": (192, 1024, 8),
    }),
}

_FAMILY: Final = re.compile(r"ecs\.([a-z]+[0-9]+[a-z]*)[-.]", re.ASCII)


def shape_of(instance_type: str) -> InstanceShape | None:
    """The shape of a known instance type, or None."""
    return INSTANCE_SHAPES.get(instance_type)


def family_of(instance_type: str) -> str | None:
    """The instance family of a type name: ``ecs.gn7i-c32g1.8xlarge`` -> ``gn7i``."""
    match = _FAMILY.match(instance_type)
    return match.group(1) if match else None


def known_families() -> list[str]:
    """The families the table covers, for messages."""
    return sorted({family for name in INSTANCE_SHAPES if (family := family_of(name))})


def types_of_family(family: str | None) -> list[str]:
    """The table's instance types of one family (to suggest a known type of the family a user chose)."""
    return [name for name in INSTANCE_SHAPES if family_of(name) == family]


@dataclass(frozen=True)
class PoolShape:
    """What every node of a pool of several instance types offers: GPUs they share, the least cpu
    and memory (the autoscaler may buy any of the types)."""

    gpus: int
    vcpus: int
    memory_gib: int


def pool_shape(instance_types: list[str]) -> tuple[PoolShape | None, str | None]:
    """The shape every node of these (known) types offers, or why there is none."""
    shapes = [INSTANCE_SHAPES[t] for t in instance_types if t in INSTANCE_SHAPES]
    if not shapes or len(shapes) != len(instance_types):
        return None, None
    gpu_counts = sorted({shape.gpus for shape in shapes})
    if len(gpu_counts) > 1:
        listed = ", ".join(f"{t} ({INSTANCE_SHAPES[t].gpus})" for t in instance_types)
        return None, f"the types differ in GPUs per node ({listed}); a worker sized for one does not fit another"
    return PoolShape(
        gpus=gpu_counts[0],
        vcpus=min(shape.vcpus for shape in shapes),
        memory_gib=min(shape.memory_gib for shape in shapes),
    ), None
