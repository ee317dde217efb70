"""The CI workflows users copy (docs/ci/) stay valid and call commands that exist."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOWS = sorted((ROOT / "docs" / "ci").glob("*.yml"))
SCRIPTS = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"])
MAKE_TARGETS = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.M))


def run_lines(workflow: dict[str, Any]) -> list[str]:
    return [step["run"] for job in workflow["jobs"].values() for step in job["steps"] if "run" in step]


def test_three_cases_are_documented() -> None:
    assert [p.name for p in WORKFLOWS] == [
        "deployed-state-no-cli.yml",
        "other-repository-cli.yml",
        "this-repository.yml",
    ]
    readme = (ROOT / "docs" / "ci" / "README.md").read_text()
    assert all(p.name in readme for p in WORKFLOWS)
    assert "deployed" in readme.lower()


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_calls_existing_commands(path: Path) -> None:
    workflow = yaml.safe_load(path.read_text())
    assert workflow["jobs"]
    for line in run_lines(workflow):
        for target in re.findall(r"\bmake (?:-C \S+ )?([a-z-]+)", line):
            assert target in MAKE_TARGETS, line
        command = line.split()[0]
        if command.startswith("ack-alluxio"):
            assert command in SCRIPTS, line
    for config in re.findall(r"policies/config/\w+\.json", path.read_text()):
        assert (ROOT / config).is_file(), config
