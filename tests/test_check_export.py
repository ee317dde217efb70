"""``python -m ack_alluxio_training.offline.check_export EXPORT [POLICY_CONFIG]``: report, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ack_alluxio_training.offline.check_export import EXIT_BAD_INPUT, EXIT_MANDATORY_VIOLATIONS, EXIT_PASSED, main
from ack_alluxio_training.offline.policy_runner import environment_config_path
from tests.fixtures.policies.examples import FIXTURES

ROOT = Path(__file__).resolve().parent.parent
GOOD = str(FIXTURES / "good-stack.json")
MISCONFIGURED = str(FIXTURES / "misconfigured-stack.json")
PROD = str(environment_config_path("prod"))

#: What the hand-written misconfigured export gets wrong, rule by rule.
MISCONFIGURED_RULES = {
    "node-pool-fuse-kernel", "oss-bucket-private", "oss-bucket-protected", "ram-policy-least-privilege",
    "oss-bucket-encrypted", "oss-bucket-public-access-blocked", "bucket-in-cluster-region",
    "alluxio-ufs-read-avoids-eviction", "alluxio-no-passive-cache", "alluxio-read-type-cache",
    "alluxio-client-metadata-cache", "alluxio-worker-list-refresh", "alluxio-no-access-time-updates",
    "alluxio-short-circuit-local", "alluxio-jvm-active-processor-count", "alluxio-cpu-requests-limits",
    "alluxio-cache-holds-dataset", "alluxio-fuse-metadata-ttl", "alluxio-fuse-threads",
    "privileged-pods-only-in-fuse-namespace", "training-gpu-limits", "training-gpu-toleration",
    "training-shm-memory", "training-fuse-mount", "training-cpu-requests-limits", "alluxio-client-finds-master",
}


def test_a_tuned_stack_passes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([GOOD, PROD]) == EXIT_PASSED
    out = capsys.readouterr().out
    assert "20 resources checked" in out
    assert out.strip().endswith("PASSED: 0 mandatory, 0 advisory violation(s), 0 remediation(s)")


def test_a_misconfigured_stack_fails_naming_each_rule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([MISCONFIGURED, PROD]) == EXIT_MANDATORY_VIOLATIONS
    captured = capsys.readouterr()
    for rule in MISCONFIGURED_RULES:
        assert f"MANDATORY {rule} [" in captured.out, rule
    assert "fuse-threads-cover-readers" not in captured.out  # no FUSE thread count to compare against
    assert "oss:*" in captured.out and "'CentOS'" in captured.out and "CACHE_PROMOTE" in captured.out
    assert "fix: " in captured.out
    assert "FAILED:" in captured.out
    assert "exit 1" in captured.err


def test_advisory_only_violations_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([MISCONFIGURED, str(environment_config_path("dev"))]) == EXIT_PASSED
    out = capsys.readouterr().out
    assert "ADVISORY alluxio-no-passive-cache [medium]" in out and "PASSED:" in out


def test_default_config_is_the_packs_own(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([MISCONFIGURED]) == EXIT_MANDATORY_VIOLATIONS
    assert "ADVISORY alluxio-worker-list-refresh [low]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"all": "strict"}, "'strict' is not an enforcement level"),
        ({"alluxio-fuse-metadata-ttl": {"minTimeoutSeconds": -1}},
         "minTimeoutSeconds: -1 is less than the minimum of 0"),
    ],
)
def test_invalid_policy_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], config: object,
                                       message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    assert main([GOOD, str(path)]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "invalid policy config" in captured.err and message in captured.err
    assert captured.out == ""


@pytest.mark.parametrize("content", ["{", "[1, 2]", "{\"deployment\": {\"resources\": {}}}"])
def test_unreadable_export_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(content)
    assert main([str(path)]) == EXIT_BAD_INPUT
    assert "cannot read the export" in capsys.readouterr().err


def test_missing_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "none.json")]) == EXIT_BAD_INPUT
    assert main([GOOD, str(tmp_path / "none.json")]) == EXIT_BAD_INPUT
    assert main([]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert "none.json: cannot read" in err


def test_runs_as_a_module() -> None:
    result = subprocess.run([sys.executable, "-m", "ack_alluxio_training.offline.check_export", MISCONFIGURED, PROD],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == EXIT_MANDATORY_VIOLATIONS
    assert "MANDATORY oss-bucket-private [critical]" in result.stdout


def test_an_internal_error_is_not_reported_as_violations(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    import ack_alluxio_training.offline.check_export as check_export

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(check_export, "evaluate", broken)
    assert main([GOOD]) == 3
    error = capsys.readouterr().err
    assert "check-export: exit 3: internal error (RuntimeError: boom)" in error and "report it" in error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 1
