"""The README's config reference is generated from the settings models and must not drift."""

from __future__ import annotations

from ack_alluxio_training.offline.config_reference import BEGIN, END, render
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT


def test_config_reference_is_current() -> None:
    text = (PROJECT_ROOT / "README.md").read_text()
    section = text[text.index(BEGIN) : text.index(END) + len(END)]
    assert section == render(), "README.md is stale: run make config-reference"


def test_every_settings_key_is_documented() -> None:
    rendered = render()
    for key in ("nodePool.imageType", "cache.quotaPerNode", "fuse.libfuseVersion", "jobs[].readerThreads"):
        assert f"`{key}`" in rendered


def test_quick_start_commands_are_in_the_readme() -> None:
    text = (PROJECT_ROOT / "README.md").read_text()
    assert "make plan" in text and "make test" in text
