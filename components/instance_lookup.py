"""Deploy-time confirmation of a node pool's shape with the provider's ``getInstanceTypes`` lookup.

The settings check the per-node numbers against the built-in table (``instance_types.py``); the
table can fall behind the cloud, and a custom type has no row at all. When the stack deploys, the
node pool asks ``alicloud.ecs.getInstanceTypes`` for each of its types and refuses to create the pool
when a type is not offered in the region, or offers other GPUs than the pool declares, or fewer
vCPUs or less memory. Offline, the mock engine answers the same invoke from the table, so plans
run without a cloud and tests can answer otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pulumi
from pulumi_alicloud import ecs

INVOKE_TOKEN: Final = "alicloud:ecs/getInstanceTypes:getInstanceTypes"
#: The API reports memory in GiB as a float; a rounding step never makes a node too small.
_MEMORY_TOLERANCE_GIB: Final = 0.5


@dataclass(frozen=True)
class OfferedShape:
    """One instance type as the cloud reports it."""

    gpus: int
    gpu_model: str
    vcpus: int
    memory_gib: float


def offered_shapes(result: Any) -> list[OfferedShape]:
    """The shapes in a ``getInstanceTypes`` result (an SDK result object)."""
    shapes = []
    for item in getattr(result, "instance_types", None) or []:
        gpus = list(getattr(item, "gpus", None) or [])
        amount = sum(int(float(getattr(gpu, "amount", 0) or 0)) for gpu in gpus)
        model = ", ".join(str(getattr(gpu, "category", "") or "") for gpu in gpus)
        shapes.append(
            OfferedShape(
                gpus=amount,
                gpu_model=model,
                vcpus=int(getattr(item, "cpu_core_count", 0) or 0),
                memory_gib=float(getattr(item, "memory_size", 0) or 0),
            )
        )
    return shapes


def shape_problem(
    instance_type: str, offered: Sequence[OfferedShape], gpus: int, vcpus: int, memory_gib: int
) -> str | None:
    """Why the cloud's answer for one type contradicts the pool's declared shape, or None."""
    if not offered:
        return f"{instance_type} is not offered in this region (alicloud.ecs.getInstanceTypes found no such type)"
    shape = offered[0]
    wrong = []
    if shape.gpus != gpus:
        wrong.append(f"{shape.gpus} GPU(s) (not {gpus})")
    if shape.vcpus < vcpus:
        wrong.append(f"{shape.vcpus} vCPUs (fewer than {vcpus})")
    if shape.memory_gib + _MEMORY_TOLERANCE_GIB < memory_gib:
        wrong.append(f"{shape.memory_gib:g} GiB (less than {memory_gib})")
    if not wrong:
        return None
    return f"the cloud reports {instance_type} with {', '.join(wrong)}"


def confirmed_instance_types(
    instance_types: pulumi.Input[Sequence[pulumi.Input[str]]],
    gpus: pulumi.Input[int],
    vcpus: pulumi.Input[int],
    memory_gib: pulumi.Input[int],
    parent: pulumi.Resource,
) -> pulumi.Output[list[str]]:
    """The instance types, resolved only once the cloud confirmed each one's shape (else an error
    naming the stack keys, and the node pool is not created)."""

    def lookups(types: list[str]) -> pulumi.Output[list[str]]:
        results = [
            ecs.get_instance_types_output(instance_type=t, opts=pulumi.InvokeOutputOptions(parent=parent))
            for t in types
        ]
        return pulumi.Output.all(pulumi.Output.all(*results), gpus, vcpus, memory_gib).apply(
            lambda values: _checked(types, values[0], int(values[1]), int(values[2]), int(values[3]))
        )

    return pulumi.Output.from_input(instance_types).apply(lambda types: lookups([str(t) for t in types]))


def _checked(types: list[str], results: list[Any], gpus: int, vcpus: int, memory_gib: int) -> list[str]:
    problems = [
        problem
        for instance_type, result in zip(types, results, strict=True)
        if (problem := shape_problem(instance_type, offered_shapes(result), gpus, vcpus, memory_gib))
    ]
    if problems:
        raise ValueError(
            "nodePool.instanceTypes: " + "; ".join(problems) + " (the stack sizes nodes by nodePool.gpusPerNode, "
            "cpuPerNode and memoryGibPerNode; fix them or the types, or set nodePool.confirmInstanceTypes: false)"
        )
    return types
