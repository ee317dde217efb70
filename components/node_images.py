"""ACK node image types and their kernels (tuning row 1: FUSE on a kernel >= 4.19).

The kernel decides FUSE behaviour (page cache for FUSE files, writeback and async reads), so the
node pool's image is chosen by kernel, not by habit. Kernel versions are those Alibaba Cloud
publishes for each image family; a ``Custom`` image must declare its kernel.

The image type names are those pulumi-alicloud 4.0's ``cs.NodePool.image_type`` documents (plus the
older ``AliyunLinux Qboot``); an image type not in this table is refused as unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True)
class ImageFamily:
    """What we know of one ACK ``image_type``: its kernel and whether GPU nodes may use it."""

    kernel: str | None
    refused_because: str | None = None


CUSTOM_IMAGE_TYPE: Final = "Custom"

IMAGE_FAMILIES: Final[dict[str, ImageFamily]] = {
    "AliyunLinux3": ImageFamily("5.10"),
    "AliyunLinux3ContainerOptimized": ImageFamily("5.10"),
    "AliyunLinux4": ImageFamily("6.6"),
    "AliyunLinux4ContainerOptimized": ImageFamily("6.6"),
    "AliyunLinux": ImageFamily("4.19", "Alibaba Cloud Linux 2 is end-of-life and refused by ACK >= 1.30"),
    "AliyunLinuxUEFI": ImageFamily("4.19", "Alibaba Cloud Linux 2 (UEFI) is end-of-life and refused by ACK >= 1.30"),
    "AliyunLinux Qboot": ImageFamily("4.19", "Alibaba Cloud Linux 2 (Qboot) is end-of-life and refused by ACK >= 1.30"),
    "AliyunLinuxSecurity": ImageFamily(
        "4.19", "the security-hardened Alibaba Cloud Linux 2 image is end-of-life and refused by ACK >= 1.30"
    ),
    "AliyunLinux4Security": ImageFamily("6.6"),
    "AliyunLinux3Arm64": ImageFamily("5.10", "an Arm64 image cannot run on x86 GPU instance types"),
    "AliyunLinux4Arm64": ImageFamily("6.6", "an Arm64 image cannot run on x86 GPU instance types"),
    "AliyunLinux4ContainerOptimizedArm64": ImageFamily("6.6", "an Arm64 image cannot run on x86 GPU instance types"),
    "CentOS": ImageFamily("3.10", "CentOS 7 ships kernel 3.10, below the FUSE floor"),
    "Ubuntu": ImageFamily(None, "Ubuntu is not supported for GPU node pools by this package"),
    "ContainerOS": ImageFamily(None, "ContainerOS is not supported on GPU nodes"),
    "Windows": ImageFamily(None, "Windows nodes cannot run Alluxio FUSE"),
    "WindowsCore": ImageFamily(None, "Windows nodes cannot run Alluxio FUSE"),
}

DEFAULT_IMAGE_TYPE: Final = "AliyunLinux3"

#: ECS GPU instance families (gn, ebmgn bare metal, sgn/vgn virtualised GPU), x86 only.
GPU_INSTANCE_TYPE: Final = re.compile(r"ecs\.(?:ebm)?(?:gn|sgn|vgn)[0-9]+[a-z0-9]*(?:-[a-z0-9]+)*\.[a-z0-9]+", re.ASCII)


def non_gpu_instance_types(instance_types: Iterable[str]) -> list[str]:
    """The instance types that are not ECS GPU types (a GPU node pool must have none)."""
    return [t for t in instance_types if not GPU_INSTANCE_TYPE.fullmatch(t)]


def kernel_tuple(version: str) -> tuple[int, ...]:
    """The numeric release prefix of a kernel version: "5.10.134-16.al8" -> (5, 10, 134)."""
    numbers: list[int] = []
    for part in version.split("-")[0].split("."):
        digits = "".join(ch for ch in part if ch in "0123456789")
        if not digits:
            break
        numbers.append(int(digits))
    if not numbers:
        raise ValueError(f"{version!r} is not a kernel version")
    return tuple(numbers)


def kernel_at_least(version: str, floor: str) -> bool:
    """Whether a kernel version meets the floor ("5.10" >= "4.19")."""
    return kernel_tuple(version) >= kernel_tuple(floor)


def allowed_image_types(floor: str) -> list[str]:
    """Image types a GPU node pool may use at this kernel floor (plus Custom with a kernel)."""
    return [
        name
        for name, family in IMAGE_FAMILIES.items()
        if family.refused_because is None and family.kernel and kernel_at_least(family.kernel, floor)
    ] + [CUSTOM_IMAGE_TYPE]


def image_kernel_problem(image_type: str, floor: str, declared_kernel: str | None) -> str | None:
    """Why an image type cannot host the FUSE cache at this floor, or None when it can."""
    allowed = ", ".join(allowed_image_types(floor))
    if image_type == CUSTOM_IMAGE_TYPE:
        if not declared_kernel:
            return f"a Custom image must declare its kernel version (kernelVersion) >= {floor}"
        if not kernel_at_least(declared_kernel, floor):
            return f"the Custom image's kernel {declared_kernel} is below the FUSE floor {floor}"
        return None
    family = IMAGE_FAMILIES.get(image_type)
    if family is None:
        return f"unknown image type {image_type!r}; allowed: {allowed}"
    if family.refused_because:
        return f"{image_type!r} is refused: {family.refused_because}; allowed: {allowed}"
    if family.kernel is None or not kernel_at_least(family.kernel, floor):
        return f"{image_type!r} has kernel {family.kernel}, below the FUSE floor {floor}; allowed: {allowed}"
    return None
