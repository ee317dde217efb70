"""Every rule against its allowed and disallowed examples (tests/fixtures/policies/cases.json).

The Gatekeeper/Kyverno pattern: each example is a small variation of a hand-written stack export,
evaluated offline through pulumi-policy's own analyzer (offline.policy_runner). An allowed example
must draw no violation from the rule; a disallowed one must draw violations whose messages name
the offending setting and value.
"""

from __future__ import annotations

from typing import Any

import pytest

from ack_alluxio_training.offline.policy_runner import evaluate, pack_info
from tests.fixtures.policies.examples import case_resources, cases

CASES = cases()


def _params(kind: str) -> list[Any]:
    return [
        pytest.param(rule, case, id=f"{rule}:{case['name']}")
        for rule, examples in CASES.items()
        for case in examples[kind]
    ]


def test_every_rule_has_allowed_and_disallowed_examples() -> None:
    names = {info.name for info in pack_info()}
    assert set(CASES) == names
    for rule, examples in CASES.items():
        assert examples["allowed"], rule
        assert examples["disallowed"], rule


@pytest.mark.parametrize(("rule", "case"), _params("allowed"))
def test_allowed(rule: str, case: dict[str, Any]) -> None:
    report = evaluate(case_resources(case), case.get("config"))
    assert report.for_policy(rule) == []


@pytest.mark.parametrize(("rule", "case"), _params("disallowed"))
def test_disallowed(rule: str, case: dict[str, Any]) -> None:
    report = evaluate(case_resources(case), case.get("config"))
    found = report.for_policy(rule)
    assert found, f"{rule} found nothing in {case['name']!r}"
    messages = [v.message for v in found]
    for fragment in case["expect"]:
        assert any(fragment in m for m in messages), (fragment, messages)
    assert all(not v.unknown for v in found)


def test_good_stack_passes_every_rule() -> None:
    for base in ("good-stack.json", "fluid-stack.json"):
        report = evaluate(case_resources({"base": base}), {"all": "mandatory"})
        assert report.violations == [], report.render()
