"""One measurement in a fresh process, so that its peak memory is its own.

``python -m benchmarks.child offline EXPORT CONFIG``: read the export and evaluate the pack as
``make check-export`` does; ``python -m benchmarks.child grpc EXPORT CONFIG SAMPLE``: the same
resources (the first SAMPLE of them) through the pack served over gRPC as the Pulumi CLI runs it,
timing the calls only (the CLI builds its requests in Go). Prints one JSON object.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from ack_alluxio_training.offline.policy_runner import evaluate, load_export, load_policy_config
from ack_alluxio_training.offline.policy_runner.resources import collector_paused
from ack_alluxio_training.offline.process_exit import exit_now


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def offline(export: str, config_path: str) -> dict[str, Any]:
    config = load_policy_config(config_path)
    baseline = _peak_mib()
    started = time.perf_counter()
    with collector_paused():
        resources = load_export(export)
        loaded = time.perf_counter()
        report = evaluate(resources, config)
    done = time.perf_counter()
    analyzed = sum(r.analyzed for r in resources)
    return {"resources": len(resources), "analyzed": analyzed, "load_s": loaded - started, "evaluate_s": done - loaded,
            "seconds": done - started, "violations": len(report.violations), "peak_mib": _peak_mib(),
            "baseline_mib": baseline}


def over_grpc(export: str, config_path: str, sample: int) -> dict[str, Any]:
    from ack_alluxio_training.offline.policy_runner.served import ServedPack

    config = load_policy_config(config_path)
    resources = load_export(export)
    analyzed = [r for r in resources if r.analyzed]
    kept = [r for r in resources if not r.analyzed] + analyzed[:sample]
    with ServedPack() as pack:
        started = time.perf_counter()
        violations = pack.evaluate(kept, config)
        seconds = pack.seconds_in_calls
        wall = time.perf_counter() - started
    return {"resources": len(resources), "measured": len(analyzed[:sample]), "analyzed": len(analyzed),
            "seconds": seconds, "wall_s": wall, "violations": len(violations)}


def main(argv: list[str]) -> int:
    kind, export, config = argv[:3]
    result = offline(export, config) if kind == "offline" else over_grpc(export, config, int(argv[3]))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
