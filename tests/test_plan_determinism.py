"""The same stack plans to byte-identical files and the same printed tree, run after run.

Each plan runs in its own process with a different hash seed, so an order that leaks from set or
dict iteration, protobuf map order or asyncio scheduling shows up as a difference here.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ack_alluxio_training.offline.canonical_order import dependency_order, sorted_keys
from ack_alluxio_training.offline.mock_engine import RecordedResource
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT

STACKS = ["dev", "staging", "prod"]


def _plan(stack: str, out: Path, seed: str) -> str:
    environment = {**os.environ, "PYTHONHASHSEED": seed}
    result = subprocess.run(
        [sys.executable, "-m", "ack_alluxio_training.offline.plan", "--stack", stack, "--out", str(out)],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, env=environment,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.replace(str(out), "<out>")


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("stack", STACKS)
def test_two_plans_of_a_stack_are_byte_identical(stack: str, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    printed_first = _plan(stack, first, "1")
    printed_second = _plan(stack, second, "2")
    assert printed_first == printed_second
    files_first, files_second = _files(first), _files(second)
    assert files_first.keys() == files_second.keys()
    assert "resources.json" in files_first
    for name, content in files_first.items():
        assert content == files_second[name], f"{name} differs between two plans of {stack}"


def _resource(name: str, parent: str = "", dependencies: list[str] | None = None) -> RecordedResource:
    return RecordedResource(
        urn=f"urn:pulumi:s::p::t::{name}", type="t", name=name, custom=True, parent=parent, provider="",
        protect=False, retain_on_delete=False, delete_before_replace=False, dependencies=dependencies or [],
        ignore_changes=[], additional_secret_outputs=[], raw_inputs={},
    )


def test_dependency_order_puts_prerequisites_first_and_breaks_ties_by_name() -> None:
    bucket = _resource("z-bucket")
    acl = _resource("a-acl", parent=bucket.urn)
    key = _resource("m-key", dependencies=[acl.urn])
    alone = _resource("b-alone")
    for arrival in ([key, acl, bucket, alone], [alone, bucket, key, acl], [acl, alone, key, bucket]):
        assert [r.name for r in dependency_order(arrival)] == ["b-alone", "z-bucket", "a-acl", "m-key"]


def test_dependency_order_keeps_resources_caught_in_a_cycle() -> None:
    first = _resource("first")
    second = _resource("second", dependencies=[first.urn])
    first.dependencies.append(second.urn)
    assert [r.name for r in dependency_order([second, first])] == ["first", "second"]


def test_sorted_keys_orders_mappings_and_keeps_lists() -> None:
    value = {"b": 1, "a": {"d": [3, {"z": 1, "y": 2}], "c": 2}}
    ordered = sorted_keys(value)
    assert ordered == value
    assert list(ordered) == ["a", "b"] and list(ordered["a"]) == ["c", "d"]
    assert list(ordered["a"]["d"][1]) == ["y", "z"] and ordered["a"]["d"][0] == 3
