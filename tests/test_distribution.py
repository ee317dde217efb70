"""The installable distribution: one distinctive import name, nothing generic, data files shipped.

Consumers run ``pip install <checkout>``; what lands in site-packages is what the wheel holds, so
the wheel is built here (offline, with the pinned setuptools) and its file list checked.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GENERIC_IMPORT = re.compile(r"^\s*(from|import)\s+(components|policies|offline)(\.|\s)", re.M)


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = out.glob("ack_alluxio_training-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_wheel_installs_only_the_distinctive_package(wheel_names: list[str]) -> None:
    top_level = {name.split("/")[0] for name in wheel_names}
    packages = {name for name in top_level if not name.endswith(".dist-info")}
    assert packages == {"ack_alluxio_training"}


def test_wheel_ships_the_pack_the_rules_and_the_offline_tools(wheel_names: list[str]) -> None:
    for required in (
        "ack_alluxio_training/__init__.py",
        "ack_alluxio_training/py.typed",
        "ack_alluxio_training/tuning.py",
        "ack_alluxio_training/job_scripts/throughput_probe.py",
        "ack_alluxio_training/policies/PulumiPolicy.yaml",
        "ack_alluxio_training/policies/config/prod.json",
        "ack_alluxio_training/policies/pack.py",
        "ack_alluxio_training/offline/plan.py",
        "ack_alluxio_training/offline/mock_engine.py",
        "ack_alluxio_training/offline/policy_runner/__init__.py",
        "ack_alluxio_training/offline/policy_runner/direct.py",
    ):
        assert required in wheel_names, required


def test_wheel_declares_console_scripts(wheel_names: list[str]) -> None:
    assert any(name.endswith(".dist-info/entry_points.txt") for name in wheel_names)


def test_repository_code_imports_the_package_by_its_distinctive_name() -> None:
    sources = [
        path
        for folder in ("components", "policies", "offline", "tests", "benchmarks", "examples")
        for path in (ROOT / folder).rglob("*.py")
    ]
    sources.append(ROOT / "__main__.py")
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources
        if GENERIC_IMPORT.search(path.read_text()) and not _imports_its_own_package(path)
    ]
    assert offenders == []


def _imports_its_own_package(path: Path) -> bool:
    """A program whose own folder holds the generic name (a consumer's own ``components/``)."""
    imported = {match.group(2) for match in GENERIC_IMPORT.finditer(path.read_text())}
    return all((path.parent / name).is_dir() for name in imported)
