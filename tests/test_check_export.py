"""``python -m ack_alluxio_training.offline.check_export EXPORT [POLICY_CONFIG]``: report, exit codes, messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ack_alluxio_training.offline.check_export import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
    EXIT_MANDATORY_VIOLATIONS,
    EXIT_PASSED,
    main,
)
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


STACK_ONLY = {"version": 3, "deployment": {"resources": [
    {"urn": "urn:pulumi:prod::p::pulumi:pulumi:Stack::p-prod", "type": "pulumi:pulumi:Stack", "outputs": {}}]}}
STACK_AND_PROVIDER = {"version": 3, "deployment": {"resources": [
    *STACK_ONLY["deployment"]["resources"],  # type: ignore[index]
    {"urn": "urn:pulumi:prod::p::pulumi:providers:kubernetes::k8s", "type": "pulumi:providers:kubernetes"}]}}


@pytest.mark.parametrize(
    ("content", "found"),
    [
        ("{", "is not JSON"),
        ("not json at all", "is not JSON"),
        ("{}", "is an empty JSON object"),
        ("[]", "is a JSON array of 0 item(s)"),
        ("[1, 2]", "is a JSON array of 2 item(s)"),
        ('"export"', "is a JSON str"),
        (json.dumps({"steps": [{"op": "create", "urn": "urn:pulumi:a::b::c::d"}], "changeSummary": {"create": 1}}),
         "looks like `pulumi preview --json` output"),
        (json.dumps({"resources": [{"urn": "u", "type": "t"}]}), "has 'resources' at the top level"),
        (json.dumps({"version": 3, "checkpoint": {}}), "has no 'deployment' object (top-level keys: checkpoint"),
        (json.dumps({"version": 3, "deployment": {"manifest": {}}}), "has a deployment without resources"),
        (json.dumps({"version": 3, "deployment": {"resources": {}}}), "deployment.resources of type dict"),
        (json.dumps({"version": 99, "deployment": {"resources": []}}), "has version 99"),
        (json.dumps({"version": 3, "deployment": {"resources": []}}), "holds only nothing (0 entries)"),
        (json.dumps(STACK_ONLY), "holds only pulumi:pulumi:Stack (1 entries): there is nothing"),
        (json.dumps(STACK_AND_PROVIDER), "holds only pulumi:providers:kubernetes, pulumi:pulumi:Stack (2 entries)"),
        (json.dumps({"version": 3, "deployment": {"resources": [{"urn": 1}]}}), "needs a string 'type' and 'urn'"),
    ],
)
def test_anything_but_a_deployed_stack_export_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                       content: str, found: str) -> None:
    path = tmp_path / "export.json"
    path.write_text(content)
    assert main([str(path), PROD]) == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert "cannot read the export" in captured.err and found in captured.err
    assert captured.out == ""  # no report, in particular no "PASSED"


def test_a_refusal_says_what_was_expected(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.json"
    path.write_text("{}")
    assert main([str(path)]) == EXIT_BAD_INPUT
    assert "expected the output of `pulumi stack export`" in capsys.readouterr().err


def test_a_directory_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path)]) == EXIT_BAD_INPUT
    assert "is a directory" in capsys.readouterr().err


def test_binary_content_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert main([str(path)]) == EXIT_BAD_INPUT
    assert "is not UTF-8 text" in capsys.readouterr().err


def test_a_file_above_the_size_limit_exits_2_without_being_read(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.json"
    with path.open("wb") as handle:  # sparse: 2 MiB on paper, nothing on disk
        handle.truncate(2 * 2**20 + 1)
    assert main([str(path), "--max-mib", "2"]) == EXIT_BAD_INPUT
    assert "above the 2 MiB limit" in capsys.readouterr().err


def test_the_size_limit_lets_a_real_export_through(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([GOOD, PROD, "--max-mib", "1"]) == EXIT_PASSED
    assert "PASSED" in capsys.readouterr().out


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
    assert main([GOOD]) == EXIT_INTERNAL_ERROR
    error = capsys.readouterr().err
    assert "check-export: exit 3: internal error (RuntimeError: boom)" in error and "report it" in error
    assert "Traceback" not in error and len(error.strip().splitlines()) == 1


def test_a_value_only_in_inputs_is_read_not_reported_as_none(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    document = json.loads(Path(MISCONFIGURED).read_text())
    for resource in document["deployment"]["resources"]:
        if resource["urn"].endswith("::cache"):
            resource["outputs"] = {"status": {"status": "deployed"}, "values": {"fuse": {"enabled": False}}}
    path = tmp_path / "export.json"
    path.write_text(json.dumps(document))
    main([str(path), PROD])
    out = capsys.readouterr().out
    assert "memory request '8Gi' (values.worker.resources.requests.memory)" in out
    assert "None" not in out


def test_outputs_win_and_inputs_fill_the_gaps() -> None:
    from ack_alluxio_training.offline.export_file import outputs_filled_from_inputs

    filled = outputs_filled_from_inputs({"a": {"x": 1}, "l": [1]}, {"a": {"x": 2, "y": 3}, "b": 4, "l": [2, 3]})
    assert filled == {"a": {"x": 1, "y": 3}, "b": 4, "l": [1]}
