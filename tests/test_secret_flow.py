"""End to end: the OSS access key is followed from its sources to every place it flows.

Two sources: the stack's secret config (``credentials: existing`` with ``ossAccessKeyId`` /
``ossAccessKeySecret``) and the RAM AccessKey's ``secret`` output (``credentials: create``). Each
value must reach the Kubernetes Secret Alluxio mounts (so the test would see a leak if there were
one), always as a Pulumi secret, and appear nowhere in ``build/plan/<stack>/`` (resources.json,
Helm values, manifests, rendered objects, dashboards) nor in anything the plan prints.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from ack_alluxio_training.offline.mock_engine import SECRET_SIG, PlanResult, run_program, unwrap_secrets
from ack_alluxio_training.offline.plan import run_plan
from ack_alluxio_training.offline.stack_config import STACKS_DIR, StackConfig, config_from_mapping
from ack_alluxio_training.settings import PROJECT, SettingsError, settings_from_config

KEY_ID = "LTAI5tTestKeyIdFlow7Q2"
KEY_SECRET = "oss-secret-Flow-4f9c2a7e1b"
CREDENTIALS_SECRET = "training-alluxio-ufs-credentials"
ACCESS_KEY_TYPE = "alicloud:ram/accessKey:AccessKey"


def prod_config(credentials: str) -> StackConfig:
    raw: dict[str, Any] = yaml.safe_load((STACKS_DIR / "Pulumi.prod.yaml").read_text())["config"]
    datasets = copy.deepcopy(raw[f"{PROJECT}:datasets"])
    datasets[0]["credentials"] = credentials
    raw[f"{PROJECT}:datasets"] = datasets
    config = config_from_mapping("prod", raw)
    if credentials == "existing":
        config.values[f"{PROJECT}:ossAccessKeyId"] = KEY_ID
        config.values[f"{PROJECT}:ossAccessKeySecret"] = KEY_SECRET
    return config


def planned_text(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): p.read_text(errors="replace") for p in sorted(out.rglob("*")) if p.is_file()}


def credential_resource(result: PlanResult) -> Any:
    return result.named(CREDENTIALS_SECRET)


def assert_nowhere(values: list[str], out: Path, printed: str) -> None:
    files = planned_text(out)
    assert files, "the plan wrote its files"
    for value in values:
        leaks = [name for name, text in files.items() if value in text]
        assert not leaks, f"a secret value is in {leaks}"
        assert value not in printed, "a secret value was printed"


def test_key_from_secret_config_reaches_the_secret_and_nothing_else(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = prod_config("existing")
    result = run_program(config)
    credentials = credential_resource(result)
    assert "stringData" in credentials.secret_input_paths
    flowed = yaml.safe_dump(credentials.inputs["stringData"])
    assert KEY_ID in flowed and KEY_SECRET in flowed, "the key reaches the Secret Alluxio mounts"

    code = run_plan(config, tmp_path / "plan")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert_nowhere([KEY_ID, KEY_SECRET], tmp_path / "plan", captured.out + captured.err)
    manifest = yaml.safe_load((tmp_path / "plan" / "manifests" / f"{CREDENTIALS_SECRET}.yaml").read_text())
    assert manifest["kind"] == "Secret" and set(manifest["stringData"].values()) == {"redacted"}


def test_key_from_the_ram_access_key_output_is_secret_everywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = prod_config("create")
    result = run_program(config)
    (access_key,) = result.by_type(ACCESS_KEY_TYPE)
    assert "secret" in access_key.additional_secret_outputs
    assert access_key.outputs["secret"][SECRET_SIG], "the engine returns the listed output as a secret"
    generated = unwrap_secrets(access_key.outputs["secret"])
    assert isinstance(generated, str) and len(generated) > 8
    credentials = credential_resource(result)
    assert "stringData" in credentials.secret_input_paths
    assert generated in yaml.safe_dump(credentials.inputs["stringData"]), "the generated key reaches the Secret"

    code = run_plan(config, tmp_path / "plan")
    captured = capsys.readouterr()
    assert code == 0, captured.err
    # The key's id is the resource's id, in clear in any real state too; its secret half is the credential.
    assert_nowhere([generated], tmp_path / "plan", captured.out + captured.err)


def test_a_secret_config_value_is_never_echoed_by_a_validation_error() -> None:
    config = prod_config("existing")
    config.values[f"{PROJECT}:region"] = "secret-region-value-xyz"
    secret_keys = frozenset({*config.secret_keys, f"{PROJECT}:region"})
    with pytest.raises(SettingsError) as raised:
        settings_from_config(config.values, secret_keys)
    message = str(raised.value)
    assert f"{PROJECT}:region" in message
    assert "secret-region-value-xyz" not in message
