"""The repository's own docs match the code: the tuning table names real policies, every row has a
guardrail, and no document sends a reader to a file this repository does not have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ack_alluxio_training.offline.policy_runner import pack_info
from ack_alluxio_training.policies.fix_hints import HINTS
from ack_alluxio_training.settings import SettingsError, settings_from_config
from tests.test_settings import with_change

ROOT = Path(__file__).resolve().parent.parent
TUNING = ROOT / "docs" / "tuning.md"
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".json", ".txt", ".cfg"}
SKIPPED_DIRS = {".git", ".venv", "build", ".mypy_cache", ".ruff_cache", ".hypothesis", "__pycache__", ".pytest_cache"}


def _table_rows() -> dict[int, list[str]]:
    """The tuning table of docs/tuning.md: row number -> cells."""
    rows: dict[int, list[str]] = {}
    for line in TUNING.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].isdigit():
            rows[int(cells[0])] = cells
    return rows


def test_the_table_has_every_row_with_a_guardrail() -> None:
    rows = _table_rows()
    assert sorted(rows) == list(range(1, 14))
    assert all(re.search(r"`[a-z0-9-]+`", cells[-1]) for cells in rows.values())


def test_every_policy_named_in_the_table_exists_and_guards_its_row() -> None:
    policies = {info.name: info for info in pack_info()}
    for row, cells in _table_rows().items():
        for name in re.findall(r"`([a-z0-9-]+)`", cells[-1]):
            assert name in policies, f"row {row} names {name!r}, which the pack does not have"
            assert row in policies[name].rows, f"{name} does not declare row {row}"


def test_every_policy_that_declares_a_row_is_in_that_row() -> None:
    rows = _table_rows()
    for info in pack_info():
        for row in info.rows:
            assert f"`{info.name}`" in rows[row][-1], f"{info.name} guards row {row} but the table does not say so"


def test_every_policy_name_mentioned_in_the_docs_exists() -> None:
    names = {info.name for info in pack_info()}
    readme_table = "\n".join(line for line in (ROOT / "README.md").read_text().splitlines()
                              if re.match(r"\| \d", line))
    texts = {"docs/tuning.md": TUNING.read_text(), "policies/README.md": (ROOT / "policies" / "README.md").read_text(),
             "README.md (tuning table)": readme_table}
    policy_name = r"`((?:alluxio|fuse|training|oss|node-pool|ram|bucket|privileged)-[a-z0-9-]+-[a-z0-9-]+)`"
    for where, text in texts.items():
        for name in re.findall(policy_name, text):
            assert name in names, f"{where} names {name!r}"


def _repository_texts() -> list[Path]:
    found = []
    for path in ROOT.rglob("*"):
        if path.is_file() and path.suffix in TEXT_SUFFIXES and not SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            found.append(path)
    return found


def test_nothing_points_at_a_design_file_this_repository_does_not_have() -> None:
    marker = "DESIGN" + ".md"  # spelled apart so this test does not find itself
    offenders = [str(p.relative_to(ROOT)) for p in _repository_texts() if marker in p.read_text(errors="replace")]
    assert not offenders


@pytest.mark.parametrize("path", ["policies/README.md", "docs/tuning.md", "README.md", "docs/operations.md"])
def test_source_files_the_docs_name_exist(path: str) -> None:
    text = (ROOT / path).read_text()
    for named in set(re.findall(r"`((?:components|policies|offline)/[a-z_/]+\.py)`", text)):
        assert (ROOT / named).exists(), f"{path} names {named}, which does not exist"


def test_operations_doc_says_what_the_settings_do_with_fuse_namespace() -> None:
    assert "`fuse.namespace`" in (ROOT / "docs" / "operations.md").read_text()
    assert "refused" in (ROOT / "docs" / "operations.md").read_text()
    with pytest.raises(SettingsError, match=r"fuse\.namespace"):
        settings_from_config(with_change("prod", "fuse", ["namespace"], "training"), frozenset())


def test_the_tables_stack_keys_and_helm_values_match_the_fix_hints() -> None:
    rows = _table_rows()
    stack_keys = " ".join(cells[3] for cells in rows.values())
    helm_values = " ".join(cells[4] for cells in rows.values())
    for hint in HINTS:
        assert f"`{hint.stack_key}`" in stack_keys, f"{hint.stack_key} is not in the stack key column"
        shown = hint.helm_value.removeprefix("values.")
        if shown.startswith(("(", "spec")):
            continue  # not a Helm value: the node pool's size, a training container
        generic = re.sub(r"^(master|jobMaster|worker|jobWorker|fuse)\.resources\.(requests|limits)",
                         "<component>.resources.requests", shown)
        tail = ".".join(shown.split(".")[-2:])
        assert any(form in helm_values for form in (shown, generic, tail)), hint.helm_value
