"""Image references: floating tags are refused, production needs a digest."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ack_alluxio_training import image_references as refs
from ack_alluxio_training.offline.stack_config import load_stack_config
from ack_alluxio_training.settings import SettingsError, settings_from_config

DIGEST = "sha256:" + "0123456789abcdef" * 4
#: A training image as production must name it (for tests that build prod-like settings).
PINNED_IMAGE = f"registry.example.com/acme/tensorflow-benchmarks@{DIGEST}"


@pytest.mark.parametrize(
    ("image", "tag", "floats", "pinned"),
    [
        ("mpioperator/tensorflow-benchmarks:latest", "latest", True, False),
        ("mpioperator/tensorflow-benchmarks", None, True, False),
        ("registry:5000/team/bench", None, True, False),
        ("registry:5000/team/bench:2.1", "2.1", False, False),
        (f"registry:5000/team/bench@{DIGEST}", None, False, True),
        (f"bench:latest@{DIGEST}", "latest", False, True),
        ("bench@sha256:abc", None, True, False),
    ],
)
def test_tags_and_digests(image: str, tag: str | None, floats: bool, pinned: bool) -> None:
    assert refs.tag_of(image) == tag
    assert refs.floating(image) is floats
    assert refs.is_pinned_by_digest(image) is pinned


@given(st.text(alphabet="abcdef0123456789", min_size=64, max_size=64), st.sampled_from(["", ":1.0", ":latest"]))
def test_a_full_digest_is_always_enough(hexdigest: str, tag: str) -> None:
    image = f"acme/bench{tag}@sha256:{hexdigest}"
    assert refs.image_pin_problem(image, require_digest=True) is None


def test_production_refuses_tags_and_every_environment_refuses_latest() -> None:
    assert "not pinned by digest" in (refs.image_pin_problem("acme/bench:2.1", require_digest=True) or "")
    assert "floats" in (refs.image_pin_problem("acme/bench", require_digest=False) or "")
    assert refs.image_pin_problem("acme/bench:2.1", require_digest=False) is None


def _with_image(stack: str, image: str) -> dict[str, str]:
    config = load_stack_config(stack)
    values = dict(config.values)
    key = "ack-alluxio-training:jobs"
    jobs = json.loads(values[key])
    jobs[0]["image"] = image
    values[key] = json.dumps(jobs)
    return values


@pytest.mark.parametrize("image", ["mpioperator/tensorflow-benchmarks:latest", "mpioperator/tensorflow-benchmarks",
                                   "mpioperator/tensorflow-benchmarks:0.3.0"])
def test_a_prod_stack_without_a_digest_is_invalid_config(image: str) -> None:
    config = load_stack_config("prod")
    with pytest.raises(SettingsError, match=r"jobs\[0\]\.image: .* not pinned by digest"):
        settings_from_config(_with_image("prod", image), config.secret_keys)


def test_dev_may_run_the_benchmark_by_tag() -> None:
    config = load_stack_config("dev")
    settings = settings_from_config(_with_image("dev", "mpioperator/tensorflow-benchmarks:latest"), config.secret_keys)
    assert settings.jobs[0].image.endswith(":latest")
