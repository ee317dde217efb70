"""``make bench``: the offline plan, and policy evaluation offline and over gRPC, side by side.

For each mix (``benchmarks.exports``) and size (``$BENCH_SIZES``, default 1,000,10,000,100,000) an
export file is written and measured, each in a fresh process (``benchmarks.child``), so that peak
memory is that of the measurement:

- offline: reading the export and evaluating the pack with the prod policy config, as
  ``make check-export`` does (seconds, microseconds per resource, peak memory of the process);
- gRPC: the pack served the way the Pulumi CLI runs it, timing the calls, measured once per mix on
  ``$BENCH_GRPC_SAMPLE`` resources (default 500) and scaled to each size by the number of analyzed
  resources (the path is linear; the table says which figures are scaled).

Prints a markdown table and writes it, the raw results and a plot under ``build/bench/``.
``$BENCH_MIXES`` limits the mixes (e.g. ``helm,job``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from benchmarks.exports import MIXES, write_export
from benchmarks.report import Row, flatness, plot, table

ROOT: Final = Path(__file__).resolve().parent.parent
OUT: Final = ROOT / "build" / "bench"
POLICY_CONFIG: Final = ROOT / "policies" / "config" / "prod.json"
DEFAULT_SIZES: Final = (1_000, 10_000, 100_000)
DEFAULT_GRPC_SAMPLE: Final = 500
BUDGET_SECONDS: Final = 5.0


def _sizes() -> list[int]:
    configured = os.environ.get("BENCH_SIZES", "").replace("_", "").strip()
    return [int(s) for s in configured.split(",") if s.strip()] if configured else list(DEFAULT_SIZES)


def _mixes() -> list[str]:
    configured = os.environ.get("BENCH_MIXES", "").strip()
    chosen = [m.strip() for m in configured.split(",") if m.strip()] if configured else list(MIXES)
    unknown = sorted(set(chosen) - set(MIXES))
    if unknown:
        raise SystemExit(f"bench: unknown mix {', '.join(unknown)}; choose from {', '.join(MIXES)}")
    return chosen


def machine() -> str:
    """The machine and versions the figures were taken on."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 0
    names = ("pulumi", "pulumi-policy", "protobuf", "grpcio")
    versions = ", ".join(f"{name} {metadata.version(name)}" for name in names)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{cpus} cores, {platform.machine()}, Python {platform.python_version()}, {versions}; "
            f"load average {load:.1f} at start")


def _child(*args: str) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-m", "benchmarks.child", *args], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args[:2])} failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _plan_seconds() -> str:
    from ack_alluxio_training.offline.mock_engine import run_program
    from ack_alluxio_training.offline.stack_config import load_stack_config

    config = load_stack_config("prod")
    run_program(config)  # warm: imports and first-run caches
    times = []
    for _ in range(5):
        started = time.perf_counter()
        run_program(config)
        times.append(time.perf_counter() - started)
    return (f"plan prod (mock engine, imports cached): median {statistics.median(times):.3f} s, "
            f"max {max(times):.3f} s over {len(times)} runs (budget < 2 s)")


def main() -> int:
    from ack_alluxio_training.offline.export import stack_export
    from ack_alluxio_training.offline.mock_engine import run_program
    from ack_alluxio_training.offline.stack_config import load_stack_config

    sizes, mixes = _sizes(), _mixes()
    sample = int(os.environ.get("BENCH_GRPC_SAMPLE", DEFAULT_GRPC_SAMPLE))
    about = machine()
    print(f"machine: {about}")
    print(_plan_seconds())
    export = stack_export(run_program(load_stack_config("prod")))
    rows: list[Row] = []
    for mix in mixes:
        path = write_export(export, mix, sample, OUT / "exports" / f"{mix}-grpc.json")
        try:
            grpc = _child("grpc", str(path), str(POLICY_CONFIG), str(sample))
        finally:
            path.unlink()
        per_analyzed = grpc["seconds"] / max(1, grpc["measured"])
        for size in sizes:
            path = write_export(export, mix, size, OUT / "exports" / f"{mix}-{size}.json")
            try:
                offline = _child("offline", str(path), str(POLICY_CONFIG))
            finally:
                path.unlink()
            row = Row(mix, size, offline["resources"], offline["seconds"], offline["load_s"], offline["peak_mib"],
                      per_analyzed * offline["analyzed"], grpc["measured"], offline["analyzed"])
            rows.append(row)
            print(f"  {mix:>6} {size:>7,}: offline {row.offline_s:7.2f} s ({row.offline_us:4.0f} us/res, "
                  f"peak {row.peak_mib:,.0f} MiB)  gRPC {row.grpc_s:8.1f} s ({row.grpc_note})  {row.ratio:.0f}x",
                  flush=True)
    markdown = table(rows)
    notes = flatness(rows)
    slowest = max((r for r in rows if r.size == 10_000), key=lambda r: r.offline_s, default=None)
    print()
    print(markdown)
    for note in notes:
        print(f"per-resource cost, {note}")
    if slowest is not None:
        verdict = "ok" if slowest.offline_s < BUDGET_SECONDS else "OVER BUDGET"
        print(f"slowest mix at 10,000 resources: {slowest.mix} {slowest.offline_s:.2f} s "
              f"(budget < {BUDGET_SECONDS:g} s) [{verdict}]")
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.md").write_text(f"Machine: {about}\n\n{markdown}\n\n" + "".join(f"- {n}\n" for n in notes))
    (OUT / "results.json").write_text(json.dumps({"machine": about, "rows": [r.__dict__ for r in rows]}, indent=2))
    picture = plot(rows, OUT / "policy-evaluation.png", about)
    print(f"wrote {OUT / 'results.md'}, {OUT / 'results.json'}"
          + (f", {picture}" if picture else " (no plot: matplotlib is missing, see requirements-bench.txt)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
