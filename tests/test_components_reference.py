"""docs/components.md is generated from the component package's schema and kept in step with it."""

from __future__ import annotations

from pathlib import Path

from ack_alluxio_training.component_package import COMPONENTS
from ack_alluxio_training.offline import components_reference

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "components.md"


def test_reference_is_up_to_date() -> None:
    assert REFERENCE.read_text() == components_reference.render(), "run `make components-reference` and commit"


def test_every_component_has_its_inputs_and_outputs() -> None:
    text = components_reference.render()
    for component in COMPONENTS:
        section = text.split(f"## {component.__name__}\n", 1)[1].split("\n## ", 1)[0]
        assert "### Inputs" in section and "### Outputs" in section


def test_required_inputs_are_marked_and_defaults_shown() -> None:
    text = components_reference.render()
    assert "| `cacheNodes` | integer | **required** |" in text
    assert "| `alluxioVersion` | string | `2.9.5` |" in text
