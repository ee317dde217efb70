"""The pack's identity and its policies, in one list, for ``__main__.py`` and the offline runner.

``__main__.py`` hands exactly this list to ``PolicyPack`` (which then serves gRPC forever); the
offline runner builds pulumi-policy's own analyzer from the same list, so both enforce the same
rules.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

import yaml
from pulumi_policy import EnforcementLevel

from ack_alluxio_training.policies import alluxio, fuse, metrics, node_pool, production, stack, storage, training
from ack_alluxio_training.policies.guardrails import Guardrail

PACK_NAME: Final = "ack-alluxio-training"
PACK_DIR: Final = Path(__file__).resolve().parent
#: Level of a policy that states none (every policy here states its own).
DEFAULT_ENFORCEMENT_LEVEL: Final = EnforcementLevel.ADVISORY
DESCRIPTION: Final = (
    "Guardrails for Alluxio-cached GPU training on Alibaba Cloud ACK: each tuning row of the study as a policy, "
    "plus OSS and RAM security."
)


def all_policies() -> list[Guardrail]:
    """Every policy of the pack, grouped by area: node pool, storage, Alluxio, FUSE, training, stack, metrics,
    production safety."""
    return [*node_pool.POLICIES, *storage.POLICIES, *alluxio.POLICIES, *fuse.POLICIES, *training.POLICIES,
            *stack.POLICIES, *metrics.POLICIES, *production.POLICIES]


@cache
def pack_version() -> str:
    """The version in PulumiPolicy.yaml (the one the Pulumi CLI reports for the pack)."""
    document = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text()) or {}
    return str(document.get("version") or "0.0.1")
