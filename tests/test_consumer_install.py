"""Done when: a fresh virtualenv outside the checkout installs the wheel, and a program in another
folder imports the components by the distinctive name and plans offline through the consumer
command, with the policy report.

The wheel is built from the checkout and installed with ``--no-deps`` into a new virtualenv under
the test's temporary folder. Its dependencies (pulumi, the providers, pydantic...) are borrowed
from this repository's ``.venv`` by a plain path line in a ``.pth`` file, so the test runs offline;
a plain path line does not run the ``.pth`` hooks of that folder, so the checkout's editable
install stays invisible, and the test asserts that the package is imported from the new
virtualenv. The full form with the pinned dependencies is the README's
``pip install <checkout> -c requirements.lock``.
"""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

PROGRAM = ROOT / "tests" / "fixtures" / "consumer-program"


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("consumer")
    wheels = base / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
    )
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, capture_output=True)
    python = venv / "bin" / "python"
    # The published pack's requirements.txt names exactly this wheel (its one version).
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            "--find-links",
            str(wheels),
            "-r",
            str(ROOT / "policies" / "requirements.txt"),
        ],
        check=True,
        capture_output=True,
    )
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(purelib) / "borrowed_dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    return venv


@pytest.fixture(scope="module")
def consumer_program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The program, copied to a folder outside the checkout (its plan files land beside it)."""
    program = tmp_path_factory.mktemp("elsewhere") / "coco-stack"
    shutil.copytree(PROGRAM, program)
    return program


def test_the_package_comes_from_the_fresh_venv(fresh_venv: Path) -> None:
    found = subprocess.run(
        [
            str(fresh_venv / "bin" / "python"),
            "-c",
            "import ack_alluxio_training as p; print(p.__file__, p.__version__)",
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd="/",
    ).stdout
    assert found.startswith(str(fresh_venv)) and found.split()[1] == "0.2.0"


def test_a_program_elsewhere_plans_through_the_consumer_command(fresh_venv: Path, consumer_program: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [
            str(fresh_venv / "bin" / "ack-alluxio-plan"),
            "--program",
            str(consumer_program),
            "--stack",
            "dev",
            "--environment",
            "prod",
        ],
        capture_output=True,
        text=True,
        cwd=consumer_program.parent,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "coco-stack-dev" in result.stdout
    assert "Policy pack ack-alluxio-training@v0.2.0" in result.stdout and "PASSED" in result.stdout
    plan_dir = consumer_program / "build" / "plan" / "dev"
    assert (plan_dir / "resources.json").is_file()
    assert (plan_dir / "helm-values-coco-fuse-release.yaml").is_file()
