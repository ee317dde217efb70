"""Findings name the stack key on resources our components made, and the Helm value elsewhere."""

from __future__ import annotations

import pytest

from ack_alluxio_training.offline.policy_runner import evaluate
from ack_alluxio_training.policies.fix_hints import HINTS, in_users_words, made_by_our_components, stack_keys_for
from tests.fixtures.policies.examples import case_resources

OURS = "urn:pulumi:prod::p::ack-alluxio-training:index:AlluxioFuse$kubernetes:helm.sh/v3:Release::training-fuse"
FOREIGN = "urn:pulumi:prod::legacy::kubernetes:helm.sh/v3:Release::fuse"


def test_our_components_are_recognised_by_the_urn_type_chain() -> None:
    assert made_by_our_components(OURS)
    assert not made_by_our_components(FOREIGN)
    assert not made_by_our_components(None) and not made_by_our_components("not-a-urn")


@pytest.mark.parametrize(
    ("message", "keys"),
    [
        ("env MAX_IDLE_THREADS (values.fuse.env) is '2'", ["fuse.maxIdleThreads"]),
        ("cache capacity 40.0 GiB is below the data sets' 144.0 GiB", ["cache.quotaPerNode", "nodePool.desiredSize"]),
        ("cpu request '1' (values.master.resources.requests.cpu (chart 0.6.53 default))", ["alluxio.master.cpu"]),
        ("alluxio.user.metadata.cache.expiration.time is unset", ["datasets[].changeInterval"]),
        ("a message about nothing the stack config sets", []),
    ],
)
def test_a_message_maps_to_the_stack_keys_that_fix_it(message: str, keys: list[str]) -> None:
    assert stack_keys_for(message) == keys
    added = in_users_words(message, OURS)
    assert all(f"ack-alluxio-training:{key}" in added for key in keys)
    assert in_users_words(message, FOREIGN) == message


def test_every_hint_is_one_stack_key_once() -> None:
    assert len({(h.stack_key, h.helm_value) for h in HINTS}) == len(HINTS)


def _fuse_thread_case(base_patch_at: str) -> list[str]:
    case = {"base": "good-stack.json", "patches": [
        {"at": base_patch_at, "path": ["props", "values", "fuse", "env", "MAX_IDLE_THREADS"], "value": "2"}]}
    report = evaluate(case_resources(case), {"all": "mandatory"})
    return [v.message for v in report.for_policy("fuse-threads-cover-readers")]


def test_our_stacks_get_the_stack_key() -> None:
    messages = _fuse_thread_case("training-alluxio-fuse-release")
    assert messages and all("[stack config: set ack-alluxio-training:fuse.maxIdleThreads]" in m for m in messages)


def test_a_foreign_stack_gets_the_helm_words() -> None:
    case = {"base": "misconfigured-stack.json"}
    report = evaluate(case_resources(case), {"all": "mandatory"})
    messages = [v.message for v in report.violations]
    assert messages and not any("stack config:" in m for m in messages)
    assert any("values.master.resources" in m for m in messages)
