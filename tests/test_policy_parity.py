"""Three ways to one verdict: the pack served over gRPC as the Pulumi CLI runs it, the offline
runner's fast path, and the offline runner through pulumi-policy's servicer as it is.

Every fixture (the three stack exports, every allowed and disallowed case of cases.json) and every
stack's plan under the mock engine is evaluated all three ways; the violations (policy, URN, level,
severity, message) must be identical. This is what licenses the fast path (offline.policy_runner.direct).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from ack_alluxio_training.offline.export import stack_export
from ack_alluxio_training.offline.mock_engine import run_program
from ack_alluxio_training.offline.policy_runner import (
    Violation,
    environment_config_path,
    evaluate,
    load_export,
    load_policy_config,
    resources_from_export,
)
from ack_alluxio_training.offline.policy_runner.served import ServedPack
from ack_alluxio_training.offline.stack_config import load_stack_config
from tests.fixtures.policies.examples import FIXTURES, case_resources, cases

Key = tuple[str, str, str, str, str]

CASES = [
    pytest.param(case, id=f"{rule}:{kind}:{case['name']}")
    for rule, examples in cases().items()
    for kind in ("allowed", "disallowed")
    for case in examples[kind]
]
BASES = ["good-stack.json", "misconfigured-stack.json", "fluid-stack.json"]
CONFIGS = [None, {"all": "mandatory"}, {"all": "remediate"}]


@pytest.fixture(scope="module")
def served() -> Iterator[ServedPack]:
    with ServedPack(memoize=True) as pack:
        yield pack


def _keys(violations: list[Violation]) -> list[Key]:
    return sorted((v.policy, v.urn, v.level, v.severity, v.message) for v in violations)


def _three_ways(served: ServedPack, items: Sequence[Any], config: dict[str, Any] | None) -> list[Key]:
    over_grpc = _keys(served.evaluate(items, config))
    fast = _keys(evaluate(items, config, fast=True).violations)
    plain = _keys(evaluate(items, config, fast=False).violations)
    assert fast == over_grpc, "the fast path differs from the served pack"
    assert plain == over_grpc, "the servicer in-process differs from the served pack"
    return over_grpc


@pytest.mark.parametrize("config", CONFIGS, ids=["defaults", "all-mandatory", "all-remediate"])
@pytest.mark.parametrize("base", BASES)
def test_fixture_exports_three_ways(served: ServedPack, base: str, config: dict[str, Any] | None) -> None:
    _three_ways(served, case_resources({"base": base}), config)


@pytest.mark.parametrize("case", CASES)
def test_cases_three_ways(served: ServedPack, case: dict[str, Any]) -> None:
    found = _three_ways(served, case_resources(case), case.get("config"))
    if case in [c for examples in cases().values() for c in examples["disallowed"]]:
        assert found, "a disallowed case drew no violation at all"


@pytest.mark.parametrize("config", CONFIGS, ids=["defaults", "all-mandatory", "all-remediate"])
@pytest.mark.parametrize("base", BASES)
def test_fixture_files_read_as_check_export_reads_them(
    served: ServedPack, base: str, config: dict[str, Any] | None,
) -> None:
    """Read from the file, unmarked resources reach the rules as decoded (no re-encoding)."""
    loaded = load_export(FIXTURES / base)
    assert any(r.plain for r in loaded)
    assert _keys(evaluate(loaded, config).violations) == _keys(served.evaluate(case_resources({"base": base}), config))


@pytest.mark.parametrize("environment", ["dev", "staging", "prod"])
def test_stack_plans_three_ways(served: ServedPack, environment: str, tmp_path: Path) -> None:
    document = stack_export(run_program(load_stack_config(environment)))
    config = load_policy_config(environment_config_path(environment))
    verdict = _three_ways(served, resources_from_export(document), config)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    assert _keys(evaluate(load_export(path), config).violations) == verdict


def test_unknown_values_and_secrets_three_ways(served: ServedPack) -> None:
    """Values the fast path hands over through pulumi-policy's own proxy (unknowns, secrets)."""
    items = case_resources({"base": "good-stack.json", "patches": [
        {"at": "training-alluxio-fuse-release", "path": ["props", "values", "fuse", "mountOptions"],
         "value": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"},
        {"at": "training-alluxio-fuse-release", "path": ["props", "values", "fuse", "env"],
         "value": {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", "ciphertext": "v1:x"}},
    ]})
    found = _three_ways(served, items, {"all": "mandatory"})
    assert any("can't be known during preview" in key[4] for key in found)
