"""Read a stack's ``stacks/Pulumi.<stack>.yaml`` into the flat config map the engine passes.

The Pulumi CLI hands a program its config as strings, structured values JSON-encoded, and lists
the secret keys separately; this does the same so the program sees identical input offline.
Encrypted values (``secure:``) cannot be decrypted without the stack's secrets provider, so they
(and the documented secret keys a stack leaves to ``pulumi config set --secret``) become marked
placeholders: still secrets, never real credentials.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from ack_alluxio_training.settings import PROJECT, SECRET_CONFIG_KEYS

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
STACKS_DIR: Final = PROJECT_ROOT / "stacks"
OFFLINE_SECRET_PLACEHOLDER: Final = "offline-placeholder-secret"


@dataclass(frozen=True)
class StackConfig:
    """A stack's config as the engine hands it to a program."""

    stack: str
    values: dict[str, str]
    secret_keys: frozenset[str]


class StackNotFoundError(FileNotFoundError):
    """No ``Pulumi.<stack>.yaml`` in the stacks directory."""


def available_stacks(stacks_dir: Path = STACKS_DIR) -> list[str]:
    """Stack names that have a config file."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))


def _encode(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def config_from_mapping(
    stack: str, raw: dict[str, Any], *, placeholder_secrets: bool = True, project: str = PROJECT
) -> StackConfig:
    """Flatten a stack file's ``config:`` mapping; ``secure:`` values become marked placeholders.

    Keys without a namespace belong to ``project`` (a consumer's program has its own name).
    """
    values: dict[str, str] = {}
    secret_keys: set[str] = set()
    for key, value in (raw or {}).items():
        full_key = key if ":" in key else f"{project}:{key}"
        if isinstance(value, dict) and set(value) == {"secure"}:
            values[full_key] = OFFLINE_SECRET_PLACEHOLDER
            secret_keys.add(full_key)
            continue
        values[full_key] = _encode(value)
    if placeholder_secrets:
        for key in sorted(SECRET_CONFIG_KEYS):
            full_key = f"{PROJECT}:{key}"
            if full_key not in values:
                values[full_key] = OFFLINE_SECRET_PLACEHOLDER
                secret_keys.add(full_key)
    return StackConfig(stack=stack, values=values, secret_keys=frozenset(secret_keys))


def load_stack_config(stack: str, stacks_dir: Path = STACKS_DIR) -> StackConfig:
    """Config of one stack from its YAML file."""
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(available_stacks(stacks_dir)) or "none"
        raise StackNotFoundError(f"no stack config {path.name} in {stacks_dir} (stacks: {known})")
    document = yaml.safe_load(path.read_text()) or {}
    return config_from_mapping(stack, document.get("config") or {})
