"""Where a user fixes a finding: the stack key for stacks of this project, the Helm value for any other.

The rules speak the language of what is deployed (chart values, container fields), because that is
what a foreign stack's author edits. Someone who runs this project's stacks never writes Helm
values: they set ``ack-alluxio-training:fuse.maxIdleThreads`` and the components derive
``values.fuse.env.MAX_IDLE_THREADS`` from it. This module holds the one table between the two, and
adds the stack key to a finding on a resource our components made: its URN's type chain
(``Parent$Type``) names one of them (``conventions.COMPONENT_TYPE_PREFIX``). Findings on any other
resource keep the Helm words.

docs/tuning.md shows the same table per tuning row; a test keeps the two in step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from ack_alluxio_training.conventions import COMPONENT_TYPE_PREFIX, CONFIG_NAMESPACE


@dataclass(frozen=True)
class FixHint:
    """One stack key and the deployed value it sets, recognised in a message by ``pattern``."""

    stack_key: str
    helm_value: str
    pattern: str

    @property
    def matcher(self) -> re.Pattern[str]:
        return _compiled(self.pattern)


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _resource_hints(component: str, stack_prefix: str) -> tuple[FixHint, ...]:
    """cpu and memory of one Alluxio component: one stack value sets request and limit alike."""
    return tuple(
        FixHint(f"{stack_prefix}.{name}", f"values.{component}.resources.requests.{name}",
                rf"values\.{component}\.resources\.(?:requests|limits)\.{name}\b")
        for name in ("cpu", "memory")
    )


#: The table: every stack key a finding can be fixed with, and the value it becomes.
HINTS: Final[tuple[FixHint, ...]] = (
    FixHint("fuse.maxIdleThreads", "values.fuse.env.MAX_IDLE_THREADS",
            r"MAX_IDLE_THREADS|max_idle_threads|gives FUSE \d+ threads"),
    FixHint("fuse.libfuseVersion", "values.fuse.properties.alluxio.fuse.jnifuse.libfuse.version",
            r"alluxio\.fuse\.jnifuse\.libfuse\.version"),
    FixHint("fuse.entryTimeoutSeconds", "values.fuse.mountOptions", r"\bentry_timeout\b"),
    FixHint("fuse.attrTimeoutSeconds", "values.fuse.mountOptions", r"\battr_timeout\b"),
    FixHint("cache.quotaPerNode", "values.tieredstore.levels[].quota",
            r"tier quota|tieredstore quota|cache capacity"),
    FixHint("nodePool.desiredSize", "(node pool) desiredSize", r"cache capacity"),
    FixHint("cache.hostPath", "values.tieredstore.levels[].path", r"tieredstore\.levels(?:\[\d+\])? type"),
    FixHint("datasets[].fileCount", "values.properties.alluxio.user.metadata.cache.max.size",
            r"alluxio\.user\.metadata\.cache\.max\.size"),
    FixHint("datasets[].changeInterval", "values.properties.alluxio.user.metadata.cache.expiration.time",
            r"alluxio\.user\.metadata\.cache\.expiration\.time"),
    FixHint("alluxio.client.workerListRefreshInterval",
            "values.properties.alluxio.user.worker.list.refresh.interval",
            r"alluxio\.user\.worker\.list\.refresh\.interval"),
    FixHint("alluxio.client.avoidEvictionReserved",
            "values.properties.alluxio.user.block.avoid.eviction.policy.reserved.size.bytes",
            r"alluxio\.user\.block\.avoid\.eviction\.policy\.reserved\.size\.bytes"),
    *_resource_hints("master", "alluxio.master"),
    *_resource_hints("jobMaster", "alluxio.jobMaster"),
    *_resource_hints("worker", "alluxio.worker"),
    *_resource_hints("jobWorker", "alluxio.jobWorker"),
    FixHint("fuse.resources.cpu", "values.fuse.resources.requests.cpu",
            r"values\.fuse\.resources\.(?:requests|limits)\.cpu\b"),
    FixHint("fuse.resources.memory", "values.fuse.resources.limits.memory",
            r"values\.fuse\.resources\.(?:requests|limits)\.memory\b|FUSE memory limit|heap"),
    FixHint("jobs[].resources.cpu", "spec...containers[].resources.requests.cpu", r"\('(?:worker|launcher|"
            r"tensorflow|pytorch|node|trainer|training)'\): cpu request"),
)


def made_by_our_components(urn: str | None) -> bool:
    """Whether one of our components made a resource (its URN's type chain names the component)."""
    if not urn:
        return False
    parts = urn.split("::")
    return len(parts) >= 4 and any(t.startswith(COMPONENT_TYPE_PREFIX) for t in parts[2].split("$"))


#: Every hint's pattern in one alternation: a message it does not match needs no hint tried.
_ANY_HINT: Final = re.compile("|".join(f"(?:{hint.pattern})" for hint in HINTS))


def stack_keys_for(message: str) -> list[str]:
    """The stack keys that fix what a message reports, in table order, each once."""
    return list(_stack_keys(message))


@lru_cache(maxsize=4096)
def _stack_keys(message: str) -> tuple[str, ...]:
    """:func:`stack_keys_for`, remembered: a pack reports the same message on many releases alike.

    Hints can match overlapping text ("cache capacity" names two keys), which one alternation
    would report once; it only rules out messages no hint matches, and the table decides the rest.
    """
    if _ANY_HINT.search(message) is None:
        return ()
    return tuple(hint.stack_key for hint in HINTS if hint.matcher.search(message))


def in_users_words(message: str, urn: str | None) -> str:
    """A finding with the stack key(s) to change added when our components made the resource."""
    if not made_by_our_components(urn):
        return message
    keys = stack_keys_for(message)
    if not keys:
        return message
    return f"{message} [stack config: set {', '.join(f'{CONFIG_NAMESPACE}:{key}' for key in keys)}]"
