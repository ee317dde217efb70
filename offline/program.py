"""Any Pulumi Python program on disk, planned offline: its project name, its stack config, its entry.

A consumer's program imports ``ack_alluxio_training`` (or not) and lives in its own folder with its
own ``Pulumi.yaml``. This reads what the Pulumi CLI would read there (``name``, ``runtime``, ``main``,
``stackConfigDir``, project-level ``config`` defaults, then ``Pulumi.<stack>.yaml``) and runs the
entry point under the same mock engine as ``make plan``, so the plan files and the policy report
mean the same for a consumer's stack as for this repository's.

Secret config (``secure:`` values) cannot be decrypted offline: it becomes a marked placeholder that
stays a secret, exactly as for this repository's stacks.
"""

from __future__ import annotations

import os
import runpy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from ack_alluxio_training.offline.mock_engine import PlanResult, run_program
from ack_alluxio_training.offline.stack_config import StackConfig, StackNotFoundError, config_from_mapping

PROJECT_FILE: Final = "Pulumi.yaml"


class ProgramError(ValueError):
    """The folder is not a Pulumi Python program this command can run (the message says why)."""


@dataclass(frozen=True)
class Program:
    """A Pulumi program as its ``Pulumi.yaml`` describes it."""

    directory: Path
    project: str
    entry: Path
    stack_config_dir: Path
    #: Project-level config defaults (``config: {key: {default: ...}}`` or ``{key: value}``).
    defaults: dict[str, Any]


def _project_document(directory: Path) -> dict[str, Any]:
    path = directory / PROJECT_FILE
    if not path.is_file():
        raise ProgramError(f"{directory} has no {PROJECT_FILE}: give the folder of a Pulumi program")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProgramError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("name"), str):
        raise ProgramError(f"{path}: needs a 'name' (the project name)")
    return document


def _runtime_name(document: dict[str, Any]) -> str:
    runtime = document.get("runtime")
    return str(runtime.get("name") if isinstance(runtime, dict) else runtime)


def _defaults(document: dict[str, Any]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for key, spec in (document.get("config") or {}).items():
        if isinstance(spec, dict) and ("default" in spec or "value" in spec):
            defaults[key] = spec.get("value", spec.get("default"))
        elif not isinstance(spec, dict):
            defaults[key] = spec
    return defaults


def load_program(directory: Path) -> Program:
    """Read a program's ``Pulumi.yaml``; refuse what the offline plan cannot run (non-Python runtimes)."""
    directory = directory.resolve()
    document = _project_document(directory)
    runtime = _runtime_name(document)
    if runtime != "python":
        raise ProgramError(
            f"{directory / PROJECT_FILE}: runtime {runtime!r}; the offline plan runs Python programs "
            "(a YAML program consuming the component package is checked against the schema instead)"
        )
    main = directory / str(document.get("main") or ".")
    entry = main / "__main__.py" if main.is_dir() else main
    if not entry.is_file():
        raise ProgramError(f"{directory}: no entry point {entry.name} (Pulumi.yaml 'main': {document.get('main')!r})")
    return Program(
        directory=directory,
        project=document["name"],
        entry=entry,
        stack_config_dir=directory / str(document.get("stackConfigDir") or "."),
        defaults=_defaults(document),
    )


def available_stacks(program: Program) -> list[str]:
    """Stacks with a config file in the program's stack config folder."""
    files = program.stack_config_dir.glob("Pulumi.*.yaml")
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in files)


def program_stack_config(program: Program, stack: str) -> StackConfig:
    """The stack's config as the CLI hands it to the program: project defaults, then the stack file."""
    path = program.stack_config_dir / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        known = ", ".join(available_stacks(program)) or "none"
        raise StackNotFoundError(f"no stack config {path.name} in {program.stack_config_dir} (stacks: {known})")
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ProgramError(f"{path}: not valid YAML ({exc})") from None
    raw = {**program.defaults, **(document.get("config") or {})}
    return config_from_mapping(stack, raw, placeholder_secrets=False, project=program.project)


@contextmanager
def _working_directory(directory: Path) -> Iterator[None]:
    """The program runs in its own folder, as under the CLI (relative paths in it resolve there)."""
    previous = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


def run_consumer_program(program: Program, config: StackConfig, *, preview: bool = False) -> PlanResult:
    """Run the program's entry point under the mock engine with its own project name and config."""

    def entry() -> None:
        runpy.run_path(str(program.entry), run_name="__main__")

    with _working_directory(program.directory):
        return run_program(config, entry, preview=preview, project=program.project, directory=program.directory)
