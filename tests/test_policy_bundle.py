"""The publishable policy pack: self-contained, naming this distribution at the one version."""

from __future__ import annotations

import ast
import filecmp
import re
import tomllib
from pathlib import Path

import yaml

from ack_alluxio_training.offline.policy_bundle import main, write_bundle
from ack_alluxio_training.policies.pack import PACK_DIR

ROOT = Path(__file__).resolve().parent.parent
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def requirement_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]


def test_requirements_name_this_distribution_at_the_one_version() -> None:
    assert requirement_lines(PACK_DIR / "requirements.txt") == [f"ack-alluxio-training=={VERSION}"]


def test_the_bundle_is_self_contained(tmp_path: Path) -> None:
    written = write_bundle(tmp_path / "pack")
    pack = tmp_path / "pack"
    assert {p.relative_to(pack).as_posix() for p in written} == {
        "PulumiPolicy.yaml",
        "__main__.py",
        "requirements.txt",
        "README.md",
        "config/dev.json",
        "config/staging.json",
        "config/prod.json",
    }
    manifest = yaml.safe_load((pack / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"] == {"name": "python", "options": {"virtualenv": "venv"}}
    assert manifest["version"] == VERSION
    # the entry point needs nothing from the checkout: only pulumi_policy and the installed package
    tree = ast.parse((pack / "__main__.py").read_text())
    imported = {
        node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module
    }
    imported |= {a.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
    assert imported == {"pulumi_policy", "ack_alluxio_training"}
    for name in ("dev", "staging", "prod"):
        assert filecmp.cmp(pack / "config" / f"{name}.json", PACK_DIR / "config" / f"{name}.json", shallow=False)


def test_the_repository_pack_runs_in_the_checkouts_venv() -> None:
    """``--policy-pack <checkout>/policies`` from another repository uses the checkout's `make setup` venv."""
    manifest = yaml.safe_load((PACK_DIR / "PulumiPolicy.yaml").read_text())
    assert manifest["runtime"]["options"]["virtualenv"] == "../.venv"


def test_the_command_rewrites_the_folder(tmp_path: Path, capsys) -> None:
    (tmp_path / "stale.txt").parent.mkdir(exist_ok=True)
    out = tmp_path / "bundle"
    out.mkdir()
    (out / "stale.txt").write_text("left over")
    assert main([str(out)]) == 0
    assert not (out / "stale.txt").exists()
    assert re.search(r"pulumi policy publish .*bundle", capsys.readouterr().out)
