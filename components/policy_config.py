"""The policy config a stack plans with (``policy.configFile``): read safely, and never below prod's.

A policy config is the JSON file ``pulumi preview --policy-pack-config`` takes: ``"all"`` and each
policy name map to an enforcement level (a string, or an object with ``enforcementLevel``) plus the
policy's own properties. Reading one must not hang or crash on a wrong path, so only a regular file
of bounded size is read (a directory, ``/dev/zero``, ``/dev/stdin`` or a FIFO is refused before any
read). A prod stack may tighten its config but never loosen it below ``policies/config/prod.json``:
every level stays at least as strict, ``true`` switches (``requireProtect``) stay on and ``min*``
thresholds stay at least as high.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final

#: Policy configs are a few hundred bytes; the bound is generous and keeps a wrong path cheap.
MAX_POLICY_CONFIG_BYTES: Final = 256 * 1024
#: Enforcement levels from the least to the most strict. ``remediate`` fixes the resource instead of
#: blocking it, so it counts as strict as ``mandatory``.
LEVEL_STRICTNESS: Final = {"disabled": 0, "advisory": 1, "mandatory": 2, "remediate": 2}
_ALL: Final = "all"
_LEVEL_KEY: Final = "enforcementLevel"


class PolicyConfigFileError(ValueError):
    """A policy config that cannot be used; the message says why, without the file's content."""


def read_policy_config(path: Path) -> dict[str, Any]:
    """A policy config JSON object from a regular file of at most :data:`MAX_POLICY_CONFIG_BYTES`."""
    try:
        info = path.stat()
    except OSError as error:
        raise PolicyConfigFileError(f"{path}: cannot read ({error.strerror or error})") from None
    if stat.S_ISDIR(info.st_mode):
        raise PolicyConfigFileError(f"{path}: is a directory; give a policy config JSON file")
    if not stat.S_ISREG(info.st_mode):
        raise PolicyConfigFileError(f"{path}: not a regular file (a device, FIFO or socket is never read)")
    if info.st_size > MAX_POLICY_CONFIG_BYTES:
        raise PolicyConfigFileError(
            f"{path}: {info.st_size} bytes; a policy config may hold at most {MAX_POLICY_CONFIG_BYTES}"
        )
    with path.open("rb") as handle:
        data = handle.read(MAX_POLICY_CONFIG_BYTES + 1)
    try:
        text = data.decode("utf-8")
        if not text.strip():
            return {}  # an empty config leaves every policy at its own level
        document = json.loads(text)
    except UnicodeDecodeError:
        raise PolicyConfigFileError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise PolicyConfigFileError(f"{path}: not valid JSON ({error.msg} at line {error.lineno})") from None
    except RecursionError:
        raise PolicyConfigFileError(f"{path}: nested too deeply to be a policy config") from None
    if not isinstance(document, dict):
        raise PolicyConfigFileError(f"{path}: holds a JSON {type(document).__name__}; a policy config is an object")
    return document


def production_floor() -> dict[str, Any]:
    """``policies/config/prod.json`` as the pack ships it: the least a prod stack may enforce."""
    shipped = resources.files("ack_alluxio_training.policies").joinpath("config", "prod.json")
    document: dict[str, Any] = json.loads(shipped.read_text(encoding="utf-8"))
    return document


def _level(entry: Any) -> str | None:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and isinstance(entry.get(_LEVEL_KEY), str):
        return str(entry[_LEVEL_KEY])
    return None


def effective_level(config: Mapping[str, Any], policy: str) -> str | None:
    """The level ``config`` gives one policy: its own, else ``all``'s, else None (the policy's default)."""
    return _level(config.get(policy)) or _level(config.get(_ALL))


def _strictness(level: str | None) -> int:
    return LEVEL_STRICTNESS.get(level or "", -1)


def _loosened_properties(policy: str, floor: Mapping[str, Any], config: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for key, wanted in floor.items():
        if key == _LEVEL_KEY:
            continue
        given = config.get(key, wanted)
        if wanted is True and given is not True:
            problems.append(f"{policy}.{key} is {given!r}; prod requires true")
        elif (
            key.startswith("min")
            and isinstance(wanted, (int, float))
            and (not isinstance(given, (int, float)) or isinstance(given, bool) or given < wanted)
        ):
            problems.append(f"{policy}.{key} is {given!r}; prod requires at least {wanted}")
    return problems


def loosened_below(config: Mapping[str, Any], floor: Mapping[str, Any]) -> list[str]:
    """How ``config`` is looser than ``floor`` (empty when it is at least as strict)."""
    problems: list[str] = []
    names = sorted({*floor, *config} - {_ALL})
    for policy in [_ALL, *names]:
        required, given = effective_level(floor, policy), effective_level(config, policy)
        if required is not None and _strictness(given) < _strictness(required):
            problems.append(f"{policy} is {given or 'unset'}; prod requires {required}")
    for policy, entry in sorted(floor.items()):
        if isinstance(entry, Mapping):
            own = config.get(policy)
            problems += _loosened_properties(policy, entry, own if isinstance(own, Mapping) else {})
    return problems


def stack_policy_config_path(config_file: str | None, environment: str, project_root: Path) -> Path:
    """The policy config a stack plans with: its ``policy.configFile`` (relative to the project), else
    ``policies/config/<environment>.json``."""
    if config_file:
        path = Path(config_file)
        return path if path.is_absolute() else project_root / path
    return project_root / "policies" / "config" / f"{environment}.json"
