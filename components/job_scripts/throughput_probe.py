#!/usr/bin/env python3
"""Throughput probe: one benchmark on synthetic data, then on the real data through the FUSE mount.

The ratio real/synthetic says how much the data path (OSS -> Alluxio cache -> FUSE -> reader
threads) costs the GPUs: the study's tuned setup reached 96.7% (a 3.29% loss). The TrainingJob
component ships this file in a ConfigMap and runs it in the MPI launcher (or the single pod of a
plain Job) as::

    throughput_probe.py --data-dir DIR [--result-configmap NAME]
                        [--pushgateway URL --training-job NAME] -- COMMAND...

The synthetic run is COMMAND as given (tf_cnn_benchmarks with ``--data_name`` but no
``--data_dir`` feeds synthetic images of that shape); the real run is COMMAND plus
``--data_dir=DIR``. Both runs must print tf_cnn_benchmarks' ``total images/sec: N`` line.

The last line of the log is the result as one JSON object, and the same values are written into
the ConfigMap NAME (which the component creates empty and lets only this pod's service account
get and patch). With ``--pushgateway`` the values are also pushed, as a Prometheus text exposition,
to that Pushgateway under the group ``job=ack-alluxio-training-probe, training_job=NAME`` (the probe
pod ends when it is done, so nothing could scrape it; Prometheus scrapes the Pushgateway). It runs
on the training image's Python 3.8 with the standard library only.

Exit codes: 0 measured and recorded; 1 a run failed or printed no throughput; 2 bad usage;
3 measured (see the log) but the ConfigMap could not be written or the push failed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import ssl
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

#: tf_cnn_benchmarks' summary line; under mpirun it may carry a rank prefix such as "[1,0]<stdout>:".
IMAGES_PER_SEC = re.compile(r"total images/sec:\s*([0-9]+(?:\.[0-9]+)?)")
#: Where Kubernetes mounts the pod's service account credentials.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
RESULT_KEY = "result.json"
#: Prometheus names of the result: the dashboard and the alerts read these (one source).
REAL_METRIC = "ack_alluxio_training_probe_real_images_per_second"
SYNTHETIC_METRIC = "ack_alluxio_training_probe_synthetic_images_per_second"
RATIO_METRIC = "ack_alluxio_training_probe_real_to_synthetic_ratio"
FINISHED_METRIC = "ack_alluxio_training_probe_finished_timestamp_seconds"
#: The Pushgateway grouping key: ``job`` is the push's, ``training_job`` names the probe job.
PUSH_JOB = "ack-alluxio-training-probe"
TRAINING_JOB_LABEL = "training_job"


class ProbeError(RuntimeError):
    """A benchmark run failed or its output holds no throughput figure."""


class ProbeResult(NamedTuple):
    """Throughput of both runs and their ratio."""

    synthetic_images_per_sec: float
    real_images_per_sec: float
    ratio: float


def images_per_sec(log: str) -> float:
    """The throughput a benchmark run reported.

    Under Horovod every rank prints its own ``total images/sec`` line and each one is already the
    job-wide figure (tf_cnn_benchmarks multiplies by the number of workers), so several lines are
    the same measurement seen by several ranks: the median keeps one straggler from skewing it.
    """
    values = [float(match) for match in IMAGES_PER_SEC.findall(log)]
    if not values:
        raise ProbeError("the run printed no 'total images/sec: N' line")
    return float(statistics.median(values))


def probe_result(synthetic_images_per_sec: float, real_images_per_sec: float) -> ProbeResult:
    """Both throughputs and real/synthetic, rounded for reading (the study: 0.967)."""
    if synthetic_images_per_sec <= 0 or real_images_per_sec < 0:
        raise ProbeError(
            f"throughput must be positive: synthetic {synthetic_images_per_sec}, real {real_images_per_sec}"
        )
    return ProbeResult(
        synthetic_images_per_sec=round(synthetic_images_per_sec, 2),
        real_images_per_sec=round(real_images_per_sec, 2),
        ratio=round(real_images_per_sec / synthetic_images_per_sec, 4),
    )


def result_json(result: ProbeResult) -> str:
    """The single-line JSON the probe prints last (and stores under ``result.json``)."""
    return json.dumps(result._asdict())


def config_map_data(result: ProbeResult) -> dict[str, str]:
    """ConfigMap data: the JSON document and each value on its own key for ``jsonpath`` reads."""
    data = {key: str(value) for key, value in result._asdict().items()}
    data[RESULT_KEY] = result_json(result)
    return data


def exposition(result: ProbeResult, finished_at: float) -> str:
    """The result in Prometheus' text format (gauges, no labels: the grouping key adds them)."""
    samples = (
        (REAL_METRIC, "Images per second on the real data, read through the Alluxio FUSE mount.",
         result.real_images_per_sec),
        (SYNTHETIC_METRIC, "Images per second on synthetic data (no storage in the path).",
         result.synthetic_images_per_sec),
        (RATIO_METRIC, "Real over synthetic throughput: what the data path leaves to the GPUs.", result.ratio),
        (FINISHED_METRIC, "Unix time the probe finished.", round(finished_at, 3)),
    )
    lines = []
    for name, help_text, value in samples:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge", f"{name} {value!r}"]
    return "\n".join(lines) + "\n"


def push_url(pushgateway: str, training_job: str) -> str:
    """The Pushgateway URL of this probe's group (label values path-escaped)."""
    quoted = urllib.parse.quote(training_job, safe="")
    return f"{pushgateway.rstrip('/')}/metrics/job/{PUSH_JOB}/{TRAINING_JOB_LABEL}/{quoted}"


def push_result(url: str, body: str) -> None:
    """PUT the exposition: it replaces the group, so a rerun never leaves stale values behind."""
    request = urllib.request.Request(
        url, data=body.encode("utf-8"), method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


def real_data_command(command: Sequence[str], data_dir: str) -> list[str]:
    """The benchmark command pointed at the real data (the same command, plus ``--data_dir``)."""
    return [*command, f"--data_dir={data_dir}"]


def run_streaming(command: Sequence[str]) -> str:
    """Run one benchmark, echoing its output to our log as it comes, and return that output."""
    lines: list[str] = []
    with subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, bufsize=1
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
        code = process.wait()
    if code != 0:
        raise ProbeError(f"{command[0]} exited with code {code}")
    return "".join(lines)


def _api_host() -> str:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "kubernetes.default.svc")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "443")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def write_config_map(name: str, data: Mapping[str, str]) -> None:
    """Merge ``data`` into the ConfigMap ``name`` of this pod's namespace with its service account.

    Plain HTTPS to the API server (the training image has no kubectl); a merge patch needs only
    the ``patch`` verb on that one object, which is all the job's Role grants.
    """
    with open(os.path.join(SERVICE_ACCOUNT_DIR, "namespace"), encoding="utf-8") as handle:
        namespace = handle.read().strip()
    with open(os.path.join(SERVICE_ACCOUNT_DIR, "token"), encoding="utf-8") as handle:
        token = handle.read().strip()
    request = urllib.request.Request(
        f"https://{_api_host()}/api/v1/namespaces/{namespace}/configmaps/{name}",
        data=json.dumps({"data": dict(data)}).encode("utf-8"),
        method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/merge-patch+json",
            "Accept": "application/json",
        },
    )
    context = ssl.create_default_context(cafile=os.path.join(SERVICE_ACCOUNT_DIR, "ca.crt"))
    with urllib.request.urlopen(request, context=context, timeout=30) as response:
        response.read()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--data-dir", required=True, help="the dataset's directory under the FUSE mount")
    parser.add_argument("--result-configmap", default="", help="ConfigMap (same namespace) to store the result in")
    parser.add_argument("--pushgateway", default="", help="Pushgateway URL to push the result to")
    parser.add_argument("--training-job", default="", help="the job's name, the push's training_job label")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- then the benchmark command")
    return parser


def main(
    argv: Sequence[str] | None = None,
    run: Callable[[Sequence[str]], str] = run_streaming,
    write: Callable[[str, Mapping[str, str]], None] = write_config_map,
    push: Callable[[str, str], None] = push_result,
    clock: Callable[[], float] = time.time,
) -> int:
    """Run both benchmarks, print the result, store it; the return value is the exit code."""
    args = _parser().parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        print("throughput-probe: no benchmark command after --", file=sys.stderr)
        return 2
    if args.pushgateway and not args.training_job:
        print("throughput-probe: --pushgateway needs --training-job", file=sys.stderr)
        return 2
    measured = {}
    for label, argv_of_run in (("synthetic", command), ("real", real_data_command(command, args.data_dir))):
        print(f"throughput-probe: {label} data: {' '.join(argv_of_run)}", flush=True)
        try:
            measured[label] = images_per_sec(run(argv_of_run))
        except (OSError, ProbeError) as exc:
            print(f"throughput-probe: {label} run failed: {exc}", file=sys.stderr, flush=True)
            return 1
    result = probe_result(measured["synthetic"], measured["real"])
    print(
        f"throughput-probe: real data reaches {result.ratio:.2%} of synthetic throughput "
        f"({1 - result.ratio:.2%} lost to the data path)",
        flush=True,
    )
    print(result_json(result), flush=True)
    if args.result_configmap:
        try:
            write(args.result_configmap, config_map_data(result))
        except Exception as exc:  # any failure to record is reported, the measurement stays in the log
            print(f"throughput-probe: could not write ConfigMap {args.result_configmap}: {exc}", file=sys.stderr)
            return 3
    if args.pushgateway:
        url = push_url(args.pushgateway, args.training_job)
        try:
            push(url, exposition(result, clock()))
        except Exception as exc:  # the measurement stays in the log and the ConfigMap
            print(f"throughput-probe: could not push to {url}: {exc}", file=sys.stderr)
            return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
