"""The pure input rules: host paths, image references, quantities and durations, policy configs,
unknown keys, and the check-export gate's policy-config reading."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from ack_alluxio_training.durations import DurationError, duration_seconds
from ack_alluxio_training.host_paths import host_path_problem
from ack_alluxio_training.image_references import image_reference_problem, is_pinned_by_digest
from ack_alluxio_training.offline.check_export import main as check_export_main
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT, config_from_mapping
from ack_alluxio_training.policy_config import (
    PolicyConfigFileError,
    loosened_below,
    production_floor,
    read_policy_config,
)
from ack_alluxio_training.quantities import QuantityError, memory_bytes, parse_quantity
from ack_alluxio_training.settings import PROJECT, SettingsError, settings_from_config
from tests.test_settings import settings_for, stack_document, with_change

ROOT = Path(__file__).resolve().parent.parent
GOOD_EXPORT = str(ROOT / "tests" / "fixtures" / "policies" / "good-stack.json")


@pytest.mark.parametrize(
    "path",
    ["/var/lib/kubelet/pods", "/etc/alluxio", "/proc/1", "/sys/fs", "/dev/sda", "/boot/x", "/usr/local/x", "/bin/x",
     "/root/cache", "/run/x", "/dev/shm/../../etc", "/mnt/./x", "relative/path", "/mnt/a b", "/mnt//x", "/mnt",
     "/tmp", "/dev/shm", "/", "/mnt/\u0661"],
)
def test_host_paths_refused(path: str) -> None:
    assert host_path_problem(path) is not None


@pytest.mark.parametrize("path", ["/dev/shm/alluxio-cache", "/mnt/alluxio/fuse", "/data/cache", "/var/lib/alluxio"])
def test_host_paths_allowed(path: str) -> None:
    assert host_path_problem(path) is None


@pytest.mark.parametrize(
    ("reference", "valid", "pinned"),
    [
        ("mpioperator/tensorflow-benchmarks:latest", True, False),
        ("registry.cn-beijing.aliyuncs.com/team/train:v1@sha256:" + "a" * 64, True, True),
        ("localhost:5000/x", True, False),
        ("", False, False),
        ("evil image", False, False),
        ("x:tag\n", False, False),
        ("UPPER/x", False, False),
        ("x@sha256:short", False, False),
    ],
)
def test_image_references(reference: str, valid: bool, pinned: bool) -> None:
    assert (image_reference_problem(reference) is None) == valid
    assert is_pinned_by_digest(reference) == pinned


@pytest.mark.parametrize("text", ["\u0664\u0660Gi", "40Gi\n", " 40Gi", "1e999999999", "9" * 40, "1e3Gi", "nan", "inf"])
def test_quantities_refused(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_quantity(text)


def test_quantities_bounded_to_int64_and_finite() -> None:
    assert memory_bytes("7Ei") == 7 * 2**60
    with pytest.raises(QuantityError, match="larger than Kubernetes accepts"):
        memory_bytes("8Ei")
    with pytest.raises(QuantityError):
        parse_quantity(float("inf"))
    with pytest.raises(QuantityError):
        parse_quantity(2**64)


@pytest.mark.parametrize("text", ["9" * 40 + "d", "7d\n", "\u0667d", "1e3s", "5 fortnights"])
def test_durations_refused(text: str) -> None:
    with pytest.raises(DurationError):
        duration_seconds(text)


def write(tmp_path: Path, document: Any) -> Path:
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(document))
    return path


def test_policy_config_must_be_a_bounded_regular_json_object(tmp_path: Path) -> None:
    with pytest.raises(PolicyConfigFileError, match="directory"):
        read_policy_config(tmp_path)
    with pytest.raises(PolicyConfigFileError, match="not a regular file"):
        read_policy_config(Path("/dev/zero"))
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(PolicyConfigFileError, match="not a regular file"):
        read_policy_config(fifo)
    with pytest.raises(PolicyConfigFileError, match="JSON list"):
        read_policy_config(write(tmp_path, []))
    big = tmp_path / "big.json"
    big.write_text("{" + " " * 300_000 + "}")
    with pytest.raises(PolicyConfigFileError, match="at most"):
        read_policy_config(big)
    assert read_policy_config(write(tmp_path, {"all": "mandatory"})) == {"all": "mandatory"}


def test_prod_may_tighten_but_not_loosen() -> None:
    floor = production_floor()
    assert loosened_below(floor, floor) == []
    assert loosened_below({**floor, "alluxio-worker-list-refresh": "mandatory"}, floor) == []
    assert loosened_below({**floor, "all": "remediate"}, floor) == [], "remediate enforces as strictly"
    assert "all is advisory; prod requires mandatory" in loosened_below({**floor, "all": "advisory"}, floor)
    assert loosened_below({**floor, "oss-bucket-private": "disabled"}, floor)
    protect = {**floor, "oss-bucket-protected": {"requireProtect": False}}
    assert loosened_below(protect, floor) == ["oss-bucket-protected.requireProtect is False; prod requires true"]
    ttl = {**floor, "alluxio-fuse-metadata-ttl": {"minTimeoutSeconds": 60}}
    assert loosened_below(ttl, floor) == [
        "alluxio-fuse-metadata-ttl.minTimeoutSeconds is 60; prod requires at least 600"
    ]
    assert loosened_below({}, floor), "an empty config falls back to each policy's own level"


def test_prod_policy_config_is_checked_through_the_settings(tmp_path: Path) -> None:
    floor = production_floor()
    stricter = write(tmp_path, {**floor, "alluxio-no-access-time-updates": "mandatory"})
    config = config_from_mapping("prod", with_change("prod", "policy", [], {"configFile": str(stricter)}))
    settings_from_config(config.values, config.secret_keys, project_root=PROJECT_ROOT)  # no error
    looser = write(tmp_path, {**floor, "all": "advisory"})
    config = config_from_mapping("prod", with_change("prod", "policy", [], {"configFile": str(looser)}))
    with pytest.raises(SettingsError, match=rf"{PROJECT}:policy\.configFile: .* is looser than"):
        settings_from_config(config.values, config.secret_keys, project_root=PROJECT_ROOT)


@pytest.mark.parametrize(
    ("key", "path", "value", "expected"),
    [
        ("nodePool", ["gpusPerNodes"], 8, "nodePool.gpusPerNodes: unknown key; allowed here: "),
        ("jobs", [0, "readerThread"], 8, "did you mean 'readerThreads'?"),
        ("alluxio", ["master", "cpus"], "4", "alluxio.master.cpus: unknown key; allowed here: cpu, memory"),
    ],
)
def test_unknown_keys_list_the_allowed_ones_and_the_closest(
    key: str, path: list[Any], value: Any, expected: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        settings_for(with_change("prod", key, path, value))
    assert expected in str(raised.value)


def test_an_unknown_top_level_key_is_named_with_the_closest() -> None:
    raw = stack_document("prod")
    raw[f"{PROJECT}:datasetz"] = []
    with pytest.raises(SettingsError) as raised:
        settings_for(raw)
    message = str(raised.value)
    assert f"{PROJECT}:datasetz: unknown key; allowed here: " in message and "did you mean 'datasets'?" in message


@pytest.mark.parametrize("policy_config", ["/dev/zero", "/dev/stdin", "DIRECTORY", "/no/such/file.json"])
def test_check_export_refuses_a_policy_config_it_cannot_read(
    policy_config: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    given = str(tmp_path) if policy_config == "DIRECTORY" else policy_config
    assert check_export_main([GOOD_EXPORT, given]) == 2
    error = capsys.readouterr().err
    assert given in error and "Traceback" not in error


def test_property_key_templates_match_whole_keys() -> None:
    from ack_alluxio_training.alluxio_property_keys import OSS_ENDPOINT, is_known_property_key, root_mount_option

    key = root_mount_option(OSS_ENDPOINT)
    assert is_known_property_key(key)
    assert not is_known_property_key(key + "\n")
