"""Read a stack's ``stacks/Pulumi.<stack>.yaml`` into the flat config map the engine passes.

The Pulumi CLI hands a program its config as strings, structured values JSON-encoded, and lists
the secret keys separately; this does the same so the program sees identical input offline.
Encrypted values (``secure:``) cannot be decrypted without the stack's secrets provider, so they
(and the documented secret keys a stack leaves to ``pulumi config set --secret``) become marked
placeholders: still secrets, never real credentials.

The file is read as strictly as the Pulumi CLI reads it: a bounded regular file in UTF-8, one YAML
document whose ``config`` is a mapping of string keys, no duplicate key (YAML would keep the last
one silently), no Python tags, no anchors or aliases (they let a small file expand without bound).
Dates stay the strings they were written as. Each refusal names the file and the line.
"""

from __future__ import annotations

import json
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node

from ack_alluxio_training.settings import PROJECT, SECRET_CONFIG_KEYS, SettingsError

PROJECT_ROOT: Final = Path(__file__).resolve().parent.parent
STACKS_DIR: Final = PROJECT_ROOT / "stacks"
OFFLINE_SECRET_PLACEHOLDER: Final = "offline-placeholder-secret"
#: Stack files are a few kilobytes; a bound keeps a wrong path (a log, a device) from being read whole.
MAX_STACK_FILE_BYTES: Final = 4 * 1024 * 1024
#: ``namespace:name`` as ``pulumi config set`` accepts it (the namespace defaults to the project).
_CONFIG_KEY: Final = re.compile(r"(?:[A-Za-z0-9_.-]+:)?[A-Za-z0-9_.-]+", re.ASCII)
#: The deepest config here is five levels below ``config``; JSON and Python stacks stop far deeper ones.
MAX_NESTING: Final = 32
_STACK_NAME: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}", re.ASCII)


class StackFileError(SettingsError):
    """A stack file the Pulumi CLI would refuse; each problem names the file and line."""


_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: 50x faster


class _StrictLoader(_BaseLoader):  # type: ignore[misc]
    """PyYAML's safe loader without the leniencies the Pulumi CLI does not share."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            if not isinstance(key, str):
                raise ConstructorError(
                    None, None, f"key {key!r} is not a string; quote it", key_node.start_mark
                )
            if key in seen:
                raise ConstructorError(
                    None,
                    None,
                    f"duplicate key {key!r} (first at line {seen[key]}); the Pulumi CLI refuses duplicates",
                    key_node.start_mark,
                )
            seen[key] = line
        mapping: dict[Any, Any] = super().construct_mapping(node, deep=deep)
        return mapping


# Timestamps stay strings (``2024-01-01``), as the Pulumi CLI passes every config scalar as text.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _check_shape(root: Node) -> None:
    """Refuse aliases (a node reached twice) and nesting deeper than any config needs."""
    seen: set[int] = set()
    pending = [(root, 1)]
    while pending:
        node, depth = pending.pop()
        if id(node) in seen:
            raise ConstructorError(
                None, None, "anchors and aliases (*name) are not supported in stack files", node.start_mark
            )
        if depth > MAX_NESTING:
            raise ConstructorError(None, None, f"nested deeper than {MAX_NESTING} levels", node.start_mark)
        seen.add(id(node))
        if isinstance(node, MappingNode):
            pending += [(part, depth + 1) for pair in node.value for part in pair]
        elif isinstance(node, yaml.SequenceNode):
            pending += [(item, depth + 1) for item in node.value]


def _load_yaml(text: str) -> Any:
    loader = _StrictLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        _check_shape(root)
        return loader.construct_document(root)
    finally:
        loader.dispose()


def _yaml_problem(name: str, error: yaml.YAMLError, text: str) -> str:
    mark = getattr(error, "problem_mark", None)
    where = f"{name}:{mark.line + 1}" if mark is not None else name
    problem = getattr(error, "problem", None) or str(error)
    context = getattr(error, "context", None)
    detail = f"{context}: {problem}" if context and "key" not in problem else problem
    lines = text.splitlines()
    if mark is not None and mark.line < len(lines) and "\t" in lines[mark.line]:
        detail += " (a tab: YAML indents with spaces only)"
    return f"{where}: not a valid stack file: {detail}"


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config`` mapping of one stack file, read strictly (see the module docstring)."""
    name = path.name
    try:
        info = path.stat()
    except OSError as error:
        raise StackFileError([f"{name}: cannot read ({error.strerror or error})"]) from None
    if not stat.S_ISREG(info.st_mode):
        raise StackFileError([f"{name}: not a regular file"])
    if info.st_size > MAX_STACK_FILE_BYTES:
        raise StackFileError([f"{name}: {info.st_size} bytes; a stack file may hold at most {MAX_STACK_FILE_BYTES}"])
    with path.open("rb") as handle:
        data = handle.read(MAX_STACK_FILE_BYTES + 1)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        byte = data[error.start]
        raise StackFileError([f"{name}:{line}: not UTF-8 (byte {byte:#04x}); save the file as UTF-8"]) from None
    try:
        document = _load_yaml(text)
    except yaml.YAMLError as error:
        raise StackFileError([_yaml_problem(name, error, text)]) from None
    except RecursionError:
        raise StackFileError([f"{name}: nested too deeply to be a stack file"]) from None
    except ValueError as error:  # Python refuses to read an integer of more than 4300 digits
        raise StackFileError([f"{name}: a value cannot be read ({error})"]) from None
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError([f"{name}: the document is a {type(document).__name__}; a stack file is a mapping"])
    config = document.get("config")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise StackFileError([f"{name}: 'config' is a {type(config).__name__}; it must map config keys to values"])
    bad_keys = [key for key in config if not _CONFIG_KEY.fullmatch(key)]
    if bad_keys:
        raise StackFileError(
            [
                f"{name}: config key {key!r} is not of the form namespace:name (letters, digits, _ . -)"
                for key in bad_keys
            ]
        )
    return config


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
    """Config of one stack from its YAML file (read strictly: :func:`read_stack_file`)."""
    if not _STACK_NAME.fullmatch(stack):
        raise StackNotFoundError(f"{stack!r} is not a stack name (letters, digits, _ . -; at most 100)")
    path = stacks_dir / f"Pulumi.{stack}.yaml"
    if not path.exists():
        known = ", ".join(available_stacks(stacks_dir)) or "none"
        raise StackNotFoundError(f"no stack config {path.name} in {stacks_dir} (stacks: {known})")
    return config_from_mapping(stack, read_stack_file(path))
