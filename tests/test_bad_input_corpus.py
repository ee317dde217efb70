"""Regression corpus: every bad stack file found by hostile testing is refused cleanly.

Each case is planned through the real command (``python -m ack_alluxio_training.offline.plan``'s
``main``): it must exit 2, name the key (or the file and line), show no traceback, write nothing and
finish quickly. The cases are the ones that once crashed (exit 1 with a traceback), hung, named no
key, or were accepted although wrong.
"""

from __future__ import annotations

import copy
import signal
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ack_alluxio_training.offline.plan import main as plan_main
from ack_alluxio_training.offline.stack_config import STACKS_DIR
from ack_alluxio_training.settings import PROJECT

#: Far above what any of these takes; a hang fails the test instead of stalling the suite.
TIME_LIMIT_SECONDS = 60

Document = dict[str, Any]


def stack_document(stack: str) -> Document:
    document: Document = yaml.safe_load((STACKS_DIR / f"Pulumi.{stack}.yaml").read_text())
    return document


def changed(stack: str, key: str, path: list[Any], value: Any) -> Callable[[Path], bytes]:
    """A stack file with one value replaced (``...`` deletes it); ``path`` walks into the key's value."""

    def build(_: Path) -> bytes:
        document = copy.deepcopy(stack_document(stack))
        config = document["config"]
        full_key = f"{PROJECT}:{key}"
        if not path:
            config[full_key] = value
        else:
            target = config.setdefault(full_key, {})
            for part in path[:-1]:
                target = target.setdefault(part, {}) if isinstance(target, dict) else target[part]
            target[path[-1]] = value
        return yaml.safe_dump(document, allow_unicode=True).encode()

    return build


def raw(text: str | bytes) -> Callable[[Path], bytes]:
    """A stack file of exactly these bytes."""
    return lambda _: text if isinstance(text, bytes) else text.encode()


def prod_text() -> str:
    return (STACKS_DIR / "Pulumi.prod.yaml").read_text()


def with_policy_file(content: str | None, name: str = "policy.json") -> Callable[[Path], bytes]:
    """The prod stack with ``policy.configFile`` at a file in the test folder (``None``: a folder)."""

    def build(folder: Path) -> bytes:
        target = folder / name
        if content is None:
            target.mkdir()
        else:
            target.write_text(content)
        return changed("prod", "policy", ["configFile"], str(target))(folder)

    return build


def with_jobs(names: list[str], job: dict[str, Any] | None = None) -> Callable[[Path], bytes]:
    """The prod stack running copies of one job (prod's own by default) under these names."""

    def build(_: Path) -> bytes:
        document = copy.deepcopy(stack_document("prod"))
        template = job or document["config"][f"{PROJECT}:jobs"][0]
        document["config"][f"{PROJECT}:jobs"] = [{**copy.deepcopy(template), "name": name} for name in names]
        return yaml.safe_dump(document, default_flow_style=True, width=1000).encode()

    return build


#: A job that fits the prod pool many times over on its own: one worker with one GPU.
SMALL_JOB = {"dataset": "imagenet", "workers": 1, "gpusPerWorker": 1, "readerThreads": 1, "shmSize": "1Gi",
             "resources": {"cpu": "1", "memory": "2Gi"}}


NINES = "9" * 40
CORPUS: list[tuple[str, Callable[[Path], bytes], str]] = [
    # --- once a traceback with exit 1 ---
    ("quota 1e999999999", changed("prod", "cache", ["quotaPerNode"], "1e999999999"), "cache.quotaPerNode"),
    ("master memory of 40 nines", changed("prod", "alluxio", ["master", "memory"], NINES), "alluxio.master.memory"),
    ("dataset size .inf", changed("prod", "datasets", [0, "sizeGib"], float("inf")), "datasets[0].sizeGib"),
    ("dataset size .nan", changed("prod", "datasets", [0, "sizeGib"], float("nan")), "datasets[0].sizeGib"),
    ("change interval of 40 nines", changed("prod", "datasets", [0, "changeInterval"], NINES + "d"),
     "datasets[0].changeInterval"),
    ("config key 123", raw(prod_text().replace("config:\n", "config:\n  123: x\n", 1)), "123"),
    ("config key null", raw(prod_text().replace("config:\n", "config:\n  null: x\n", 1)), "None"),
    ("config key true", raw(prod_text().replace("config:\n", "config:\n  true: x\n", 1)), "True"),
    ("document is a list", raw("- config\n- other\n"), "Pulumi.bad.yaml"),
    ("document is a scalar", raw("just text\n"), "Pulumi.bad.yaml"),
    ("config is a list", raw("config:\n  - a\n"), "'config'"),
    ("YAML syntax error", raw("config:\n  ack-alluxio-training:region: [cn-beijing\n"), "Pulumi.bad.yaml:"),
    ("tab indentation", raw("config:\n\tack-alluxio-training:region: cn-beijing\n"), "Pulumi.bad.yaml:2"),
    ("python tag", raw("config:\n  ack-alluxio-training:region: !!python/object/apply:os.getcwd []\n"),
     "Pulumi.bad.yaml:2"),
    ("YAML date value", raw(prod_text().replace("ack-alluxio-training:region: cn-beijing",
                                                 "ack-alluxio-training:region: 2024-01-01")), "region"),
    ("non-UTF-8 byte", raw(prod_text().encode().replace(b"# prod:", b"# prod\xff:", 1)), "not UTF-8"),
    ("deep nesting", raw("config:\n  ack-alluxio-training:cluster: " + "[" * 5000 + "]" * 5000 + "\n"),
     "Pulumi.bad.yaml"),
    ("a number of 5000 digits", raw(prod_text().replace("desiredSize: 4", "desiredSize: " + "9" * 5000)),
     "Pulumi.bad.yaml"),
    ("alias expansion", raw("config:\n  a: &x [1, 2]\n  b: *x\n"), "aliases"),
    # --- once a hang ---
    ("fileCount 10**30", changed("prod", "datasets", [0, "fileCount"], 10**30), "datasets[0].fileCount"),
    ("10,000 jobs", with_jobs([f"j{i}" for i in range(10_000)], SMALL_JOB), "jobs"),
    ("40 jobs that fit alone but not together", with_jobs([f"j{i}" for i in range(40)], SMALL_JOB),
     "jobs: all 40 jobs together"),
    ("two jobs that fit alone but not together", with_jobs(["first", "second"]), "jobs: all 2 jobs together"),
    ("policy.configFile /dev/zero", changed("prod", "policy", ["configFile"], "/dev/zero"), "policy.configFile"),
    ("policy.configFile /dev/stdin", changed("prod", "policy", ["configFile"], "/dev/stdin"), "policy.configFile"),
    # --- once an error that named no key ---
    ("policy.configFile a directory", with_policy_file(None, "folder"), "policy.configFile"),
    ("policy.configFile missing", changed("prod", "policy", ["configFile"], "policies/config/nope.json"),
     "policy.configFile"),
    ("policy.configFile not JSON", with_policy_file("not json"), "policy.configFile"),
    ("policy.configFile a JSON list", with_policy_file("[]"), "policy.configFile"),
    # --- once accepted although wrong ---
    ("prod without deletion protection", changed("prod", "cluster", ["deletionProtection"], False),
     "cluster.deletionProtection"),
    ("prod with the dev policy levels", changed("prod", "policy", ["configFile"], "policies/config/dev.json"),
     "policy.configFile"),
    ("hostPath /var/lib/kubelet", changed("prod", "cache", ["hostPath"], "/var/lib/kubelet"), "cache.hostPath"),
    ("hostPath /etc/alluxio", changed("prod", "cache", ["hostPath"], "/etc/alluxio"), "cache.hostPath"),
    ("hostPath /proc/x", changed("prod", "cache", ["hostPath"], "/proc/x"), "cache.hostPath"),
    ("hostPath traversal", changed("prod", "cache", ["hostPath"], "/dev/shm/../../etc"), "cache.hostPath"),
    ("Arabic-Indic digits", changed("prod", "cache", ["quotaPerNode"], "\u0664\u0660Gi"), "cache.quotaPerNode"),
    ("Alluxio version with a newline", changed("prod", "alluxio", ["version"], "2.9.5\n"), "alluxio.version"),
    ("Alluxio version of 20 digits", changed("prod", "alluxio", ["version"], "2.9.99999999999999999999"),
     "alluxio.version"),
    ("empty image", changed("prod", "jobs", [0, "image"], ""), "jobs[0].image"),
    ("image with a space", changed("prod", "jobs", [0, "image"], "evil image"), "jobs[0].image"),
    ("pod CIDR not a CIDR", changed("prod", "cluster", ["podCidr"], "not-a-cidr"), "cluster.podCidr"),
    ("pod CIDR /33", changed("prod", "cluster", ["podCidr"], "10.0.0.0/33"), "cluster.podCidr"),
    ("empty cluster name", changed("prod", "cluster", ["name"], ""), "cluster.name"),
    ("chart version ../../x", changed("prod", "alluxio", ["chartVersion"], "../../x"), "alluxio.chartVersion"),
    ("duplicate YAML key", raw(prod_text() + "  ack-alluxio-training:region: cn-hangzhou\n"), "duplicate key"),
    ("unknown key", changed("prod", "nodePool", ["gpusPerNodes"], 8), "did you mean 'gpusPerNode'"),
    # --- issue 12: node shapes from the instance table ---
    ("prod on a 1-GPU instance type", changed("prod", "nodePool", ["instanceTypes"], ["ecs.gn7i-c32g1.8xlarge"]),
     "nodePool.instanceTypes: ecs.gn7i-c32g1.8xlarge has 1 x NVIDIA A10 (24 GB), 32 vCPUs, 188 GiB"),
    ("an instance type nobody knows", changed("prod", "nodePool", ["instanceTypes"], ["ecs.gn6v-c8g1.99xlarge"]),
     "nodePool.instanceTypes"),
]


@pytest.fixture
def time_limit() -> Iterator[None]:
    """Fails the test (instead of stalling the suite) when a case runs far too long."""

    def expired(*_: object) -> None:
        raise TimeoutError(f"not refused within {TIME_LIMIT_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TIME_LIMIT_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("description", "build", "expected"), CORPUS, ids=[case[0] for case in CORPUS])
@pytest.mark.usefixtures("time_limit")
def test_bad_input_exits_2_naming_the_key(
    description: str,
    build: Callable[[Path], bytes],
    expected: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "Pulumi.bad.yaml").write_bytes(build(tmp_path))
    code = plan_main(["--stack", "bad", "--stacks-dir", str(tmp_path), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2, (description, captured.err[-2000:])
    assert "plan: exit 2" in captured.err
    assert expected in captured.err, captured.err[-2000:]
    assert "Traceback" not in captured.err + captured.out
    assert not (tmp_path / "out").exists(), "nothing is written for invalid input"


def test_a_bug_exits_3_with_one_line_and_where_to_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import ack_alluxio_training.offline.plan as plan

    def broken(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(plan, "run_program", broken)
    assert plan_main(["--stack", "dev", "--out", str(tmp_path / "out")]) == 3
    error = capsys.readouterr().err.strip()
    assert error.startswith("plan: exit 3: internal error (RuntimeError: boom)")
    assert "report it" in error and "\n" not in error and "Traceback" not in error


def test_an_internal_error_message_never_shows_a_secret(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import ack_alluxio_training.offline.plan as plan

    def leaky(config: Any) -> None:
        raise RuntimeError(f"could not use {config.values[f'{PROJECT}:kubeconfig']}")

    monkeypatch.setattr(plan, "run_program", leaky)
    assert plan_main(["--stack", "dev", "--out", str(tmp_path / "out")]) == 3
    error = capsys.readouterr().err
    assert "offline-placeholder-secret" not in error and "[secret]" in error
