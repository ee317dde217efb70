"""The in-pod scripts: the throughput probe and the TF_CONFIG helper, tested offline.

They run inside the training image on its Python 3.8 with the standard library only, so besides
their logic the tests check exactly that.
"""

from __future__ import annotations

import ast
import json
import os
import ssl
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from ack_alluxio_training.job_scripts import SCRIPT_NAMES, script_sources
from ack_alluxio_training.job_scripts import throughput_probe as probe
from ack_alluxio_training.job_scripts import with_tf_cluster_flags as tf_flags

SCRIPTS_DIR = Path(probe.__file__).resolve().parent

TF_CNN_LOG = """\
Step\tImg/sec\ttotal_loss
1\timages/sec: 950.1 +/- 0.0 (jitter = 0.0)\t7.780
100\timages/sec: 971.2 +/- 1.3 (jitter = 4.0)\t7.601
----------------------------------------------------------------
total images/sec: 31068.80
----------------------------------------------------------------
"""


# --- parsing and the ratio ---------------------------------------------------------------------


def test_reads_the_total_not_the_per_step_figures() -> None:
    assert probe.images_per_sec(TF_CNN_LOG) == pytest.approx(31068.8)


def test_reads_lines_tagged_by_mpirun_and_takes_the_median_of_the_ranks() -> None:
    log = "\n".join(
        f"[1,{rank}]<stdout>:total images/sec: {value}" for rank, value in enumerate([31000.0, 31068.8, 29000.5])
    )
    assert probe.images_per_sec(log) == pytest.approx(31000.0)


def test_a_run_without_a_total_is_an_error() -> None:
    with pytest.raises(probe.ProbeError, match="total images/sec"):
        probe.images_per_sec("1\timages/sec: 950.1 +/- 0.0\n")


def test_the_studys_numbers_give_its_ratio() -> None:
    # The study: real data within 3.29% of synthetic.
    result = probe.probe_result(32125.7, 31068.8)
    assert result.ratio == pytest.approx(0.9671, abs=1e-4)
    assert result.real_images_per_sec == 31068.8


def test_zero_synthetic_throughput_is_refused() -> None:
    with pytest.raises(probe.ProbeError):
        probe.probe_result(0.0, 100.0)


def test_result_is_one_line_of_json_with_the_three_figures() -> None:
    text = probe.result_json(probe.probe_result(1000.0, 967.0))
    assert "\n" not in text
    assert json.loads(text) == {"synthetic_images_per_sec": 1000.0, "real_images_per_sec": 967.0, "ratio": 0.967}


def test_config_map_data_holds_the_json_and_each_value() -> None:
    data = probe.config_map_data(probe.probe_result(1000.0, 967.0))
    assert json.loads(data["result.json"])["ratio"] == 0.967
    assert data["ratio"] == "0.967" and data["synthetic_images_per_sec"] == "1000.0"
    assert all(isinstance(v, str) for v in data.values())


def test_the_real_run_is_the_same_command_pointed_at_the_data() -> None:
    command = ["mpirun", "-np", "32", "python3", "tf_cnn_benchmarks.py", "--model=resnet50"]
    assert probe.real_data_command(command, "/mnt/alluxio/fuse") == [*command, "--data_dir=/mnt/alluxio/fuse"]


# --- the whole probe ---------------------------------------------------------------------------


class FakeBenchmark:
    """Answers each run with a log; records the commands."""

    def __init__(self, synthetic: str, real: str) -> None:
        self.logs = {"synthetic": synthetic, "real": real}
        self.commands: list[list[str]] = []

    def __call__(self, command: Sequence[str]) -> str:
        self.commands.append(list(command))
        return self.logs["real" if any(a.startswith("--data_dir=") for a in command) else "synthetic"]


class FakeConfigMaps:
    def __init__(self, error: Exception | None = None) -> None:
        self.written: dict[str, dict[str, str]] = {}
        self.error = error

    def __call__(self, name: str, data: Mapping[str, str]) -> None:
        if self.error:
            raise self.error
        self.written[name] = dict(data)


ARGS = ["--data-dir", "/mnt/alluxio/fuse", "--result-configmap", "resnet50-probe-result", "--",
        "mpirun", "-np", "4", "python3", "tf_cnn_benchmarks.py"]


def test_probe_runs_synthetic_then_real_and_records_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = FakeBenchmark("total images/sec: 1000.00", "total images/sec: 967.00")
    config_maps = FakeConfigMaps()
    assert probe.main(ARGS, run=benchmark, write=config_maps) == 0
    assert benchmark.commands == [ARGS[5:], [*ARGS[5:], "--data_dir=/mnt/alluxio/fuse"]]
    last_line = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last_line) == {"synthetic_images_per_sec": 1000.0, "real_images_per_sec": 967.0, "ratio": 0.967}
    assert json.loads(config_maps.written["resnet50-probe-result"]["result.json"]) == json.loads(last_line)


def test_probe_fails_when_a_run_reports_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    benchmark = FakeBenchmark("total images/sec: 1000.00", "Traceback: no such file")
    config_maps = FakeConfigMaps()
    assert probe.main(ARGS, run=benchmark, write=config_maps) == 1
    assert config_maps.written == {}
    assert "real run failed" in capsys.readouterr().err


def test_probe_keeps_the_result_in_the_log_when_the_config_map_cannot_be_written(
    capsys: pytest.CaptureFixture[str],
) -> None:
    benchmark = FakeBenchmark("total images/sec: 1000.00", "total images/sec: 967.00")
    code = probe.main(ARGS, run=benchmark, write=FakeConfigMaps(PermissionError("403 Forbidden")))
    out, err = capsys.readouterr()
    assert code == 3
    assert json.loads(out.strip().splitlines()[-1])["ratio"] == 0.967
    assert "403 Forbidden" in err


def test_probe_without_a_config_map_only_logs() -> None:
    benchmark = FakeBenchmark("total images/sec: 10", "total images/sec: 9")
    config_maps = FakeConfigMaps()
    assert probe.main(["--data-dir", "/d", "--", "bench"], run=benchmark, write=config_maps) == 0
    assert config_maps.written == {}


def test_probe_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert probe.main(["--data-dir", "/d", "--"], run=FakeBenchmark("", ""), write=FakeConfigMaps()) == 2


def test_probe_runs_real_processes_and_streams_their_output(capsys: pytest.CaptureFixture[str]) -> None:
    script = (
        "import sys; real = any(a.startswith('--data_dir=') for a in sys.argv); "
        "print('total images/sec: %s' % ('900.0' if real else '1000.0'))"
    )
    config_maps = FakeConfigMaps()
    assert probe.main(["--data-dir", "/d", "--result-configmap", "r", "--", sys.executable, "-c", script],
                      write=config_maps) == 0
    out = capsys.readouterr().out
    assert "total images/sec: 1000.0" in out and "total images/sec: 900.0" in out
    assert config_maps.written["r"]["ratio"] == "0.9"


def test_a_failing_process_fails_the_probe() -> None:
    assert probe.main(["--data-dir", "/d", "--", sys.executable, "-c", "raise SystemExit(4)"],
                      write=FakeConfigMaps()) == 1


def test_the_config_map_is_patched_with_the_pods_service_account(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "namespace").write_text("training\n")
    (tmp_path / "token").write_text("sa-token\n")
    (tmp_path / "ca.crt").write_text("")
    monkeypatch.setattr(probe, "SERVICE_ACCOUNT_DIR", str(tmp_path))
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    contexts: list[str] = []
    sent: list[urllib.request.Request] = []

    def create_default_context(cafile: str) -> object:
        contexts.append(cafile)
        return object()

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b"{}"

    def urlopen(request: urllib.request.Request, **kwargs: Any) -> Response:
        sent.append(request)
        return Response()

    monkeypatch.setattr(ssl, "create_default_context", create_default_context)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    probe.write_config_map("resnet50-probe-result", {"ratio": "0.967"})
    [request] = sent
    assert request.get_method() == "PATCH"
    assert request.full_url == "https://10.0.0.1:443/api/v1/namespaces/training/configmaps/resnet50-probe-result"
    assert request.get_header("Authorization") == "Bearer sa-token"
    assert request.get_header("Content-type") == "application/merge-patch+json"
    assert isinstance(request.data, bytes) and json.loads(request.data) == {"data": {"ratio": "0.967"}}
    assert contexts == [str(tmp_path / "ca.crt")]


# --- the TF_CONFIG helper ------------------------------------------------------------------------

TF_CONFIG = {
    "cluster": {
        "ps": ["job-ps-0.default.svc:2222", "job-ps-1.default.svc:2222"],
        "worker": ["job-worker-0.default.svc:2222", "job-worker-1.default.svc:2222"],
    },
    "task": {"type": "worker", "index": 1},
    "environment": "cloud",
}


def test_cluster_flags_of_a_worker() -> None:
    assert tf_flags.cluster_flags(TF_CONFIG) == [
        "--job_name=worker",
        "--task_index=1",
        "--ps_hosts=job-ps-0.default.svc:2222,job-ps-1.default.svc:2222",
        "--worker_hosts=job-worker-0.default.svc:2222,job-worker-1.default.svc:2222",
    ]


def test_cluster_flags_of_a_parameter_server() -> None:
    flags = tf_flags.cluster_flags({**TF_CONFIG, "task": {"type": "PS", "index": 0}})
    assert flags[:2] == ["--job_name=ps", "--task_index=0"]


@pytest.mark.parametrize(
    "tf_config",
    [
        {**TF_CONFIG, "task": {"type": "chief", "index": 0}},
        {**TF_CONFIG, "task": {"type": "worker", "index": 5}},
        {**TF_CONFIG, "task": {"type": "worker", "index": "x"}},
    ],
)
def test_tasks_tf_cnn_benchmarks_cannot_run_are_refused(tf_config: dict[str, Any]) -> None:
    with pytest.raises(tf_flags.TfConfigError):
        tf_flags.cluster_flags(tf_config)


def test_command_gets_the_flags_appended() -> None:
    command = ["python3", "tf_cnn_benchmarks.py", "--model=resnet50"]
    full = tf_flags.command_with_flags(command, json.dumps(TF_CONFIG))
    assert full[:3] == command and "--task_index=1" in full[3:]
    for text in (None, "", "not json", "[1, 2]"):
        with pytest.raises(tf_flags.TfConfigError):
            tf_flags.command_with_flags(command, text)


def test_helper_without_tf_config_exits_with_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert tf_flags.main(["python3", "-c", "pass"]) == 2
    assert tf_flags.main([]) == 2


def test_helper_execs_the_command_with_the_flags(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TF_CONFIG", json.dumps(TF_CONFIG))
    executed: list[tuple[str, list[str]]] = []

    def execvp(file: str, args: Sequence[str]) -> None:
        executed.append((file, list(args)))

    monkeypatch.setattr(os, "execvp", execvp)
    tf_flags.main(["python3", "bench.py"])
    [(file, args)] = executed
    assert file == "python3" and args[:2] == ["python3", "bench.py"] and "--job_name=worker" in args


# --- what ships into the pod ----------------------------------------------------------------------


def test_script_sources_are_the_files_themselves() -> None:
    sources = script_sources()
    assert set(sources) == set(SCRIPT_NAMES)
    for name, text in sources.items():
        assert text == (SCRIPTS_DIR / name).read_text()
        assert text.startswith("#!/usr/bin/env python3\n")


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_scripts_run_on_python_3_8_with_the_standard_library_only(name: str) -> None:
    tree = ast.parse((SCRIPTS_DIR / name).read_text(), feature_version=(3, 8))
    imported = {
        alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names
    } | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}, imported
    future = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "__future__"]
    # Annotations like list[str] and X | None are only safe on 3.8 when they are never evaluated.
    assert future and any(alias.name == "annotations" for alias in future[0].names)
    subscripted_at_runtime = [
        node for node in ast.walk(tree)
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
        and node.value.id in {"list", "dict", "tuple", "set", "type", "Callable", "Mapping", "Sequence"}
        and not _inside_annotation(tree, node)
    ]
    assert not subscripted_at_runtime, [ast.unparse(n) for n in subscripted_at_runtime]


def _inside_annotation(tree: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        annotations: list[ast.AST | None] = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            arguments = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs,
                         node.args.vararg, node.args.kwarg]
            annotations += [a.annotation for a in arguments if a is not None] + [node.returns]
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None and any(sub is target for sub in ast.walk(annotation)):
                return True
    return False


# --- the result as Prometheus metrics (Pushgateway) ----------------------------------------------------

PUSH_ARGS = ["--data-dir", "/d", "--pushgateway", "http://pushgateway.monitoring:9091/",
             "--training-job", "resnet50-probe", "--", "bench"]  # fmt: skip


def test_probe_pushes_its_result_as_gauges_under_its_job() -> None:
    pushed: list[tuple[str, str]] = []
    benchmark = FakeBenchmark("total images/sec: 32125.70", "total images/sec: 31068.80")
    code = probe.main(PUSH_ARGS, run=benchmark, write=FakeConfigMaps(), push=lambda u, b: pushed.append((u, b)),
                      clock=lambda: 1700000000.0)  # fmt: skip
    assert code == 0
    [(url, body)] = pushed
    assert url == "http://pushgateway.monitoring:9091/metrics/job/ack-alluxio-training-probe/training_job/resnet50-probe"
    samples = dict(line.split(" ") for line in body.splitlines() if not line.startswith("#"))
    assert samples == {
        probe.REAL_METRIC: "31068.8",
        probe.SYNTHETIC_METRIC: "32125.7",
        probe.RATIO_METRIC: "0.9671",
        probe.FINISHED_METRIC: "1700000000.0",
    }
    assert body.count("# TYPE") == 4 and all(f"# TYPE {name} gauge" in body for name in samples)


def test_push_url_escapes_the_job_name() -> None:
    assert probe.push_url("http://pg:9091", "a/b c").endswith("/training_job/a%2Fb%20c")


def test_a_failed_push_exits_3_and_keeps_the_result(capsys: pytest.CaptureFixture[str]) -> None:
    def refuse(url: str, body: str) -> None:
        raise OSError("connection refused")

    benchmark = FakeBenchmark("total images/sec: 10", "total images/sec: 9")
    assert probe.main(PUSH_ARGS, run=benchmark, write=FakeConfigMaps(), push=refuse) == 3
    out, err = capsys.readouterr()
    assert json.loads(out.strip().splitlines()[-1])["ratio"] == 0.9
    assert "connection refused" in err


def test_pushgateway_needs_the_job_name() -> None:
    args = ["--data-dir", "/d", "--pushgateway", "http://pg:9091", "--", "bench"]
    assert probe.main(args, run=FakeBenchmark("", ""), write=FakeConfigMaps()) == 2


def test_push_is_a_put_of_the_text_format(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    class Response:
        def __enter__(self) -> Response:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def read(self) -> bytes:
            return b""

    def fake_urlopen(request: urllib.request.Request, timeout: float) -> Response:
        seen.update(method=request.get_method(), type=request.get_header("Content-type"), data=request.data)
        return Response()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    probe.push_result("http://pg:9091/metrics/job/x", "m 1\n")
    assert seen == {"method": "PUT", "type": "text/plain; version=0.0.4; charset=utf-8", "data": b"m 1\n"}
