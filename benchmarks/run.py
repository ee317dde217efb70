"""Measure the offline plan of the prod stack and policy evaluation as resources grow.

``make bench`` prints wall times: the plan (program under the mock engine, imports cached; budget
< 2 s) and the policy pack on 1,000 / 5,000 / 10,000 resources (budget < 5 s at 10,000; the
per-resource cost should stay flat, i.e. linear scaling).
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from typing import Any

from offline.export import stack_export
from offline.mock_engine import run_program
from offline.stack_config import PROJECT_ROOT, load_stack_config


def _time(function: Any, repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return times


def scaled_export(export: dict[str, Any], count: int) -> dict[str, Any]:
    """The prod export's resources repeated (with unique URNs) up to ``count`` resources."""
    base = export["deployment"]["resources"]
    resources: list[dict[str, Any]] = []
    copy_index = 0
    while len(resources) < count:
        for resource in base:
            if len(resources) >= count:
                break
            clone = copy.deepcopy(resource)
            clone["urn"] = f"{resource['urn']}-{copy_index}"
            resources.append(clone)
        copy_index += 1
    scaled = copy.deepcopy(export)
    scaled["deployment"]["resources"] = resources
    return scaled


def main() -> int:
    config = load_stack_config("prod")
    run_program(config)  # warm: imports and first-run caches
    plan_times = _time(lambda: run_program(config), 5)
    print(
        f"plan prod (mock engine, imports cached): median {statistics.median(plan_times):.3f} s, "
        f"max {max(plan_times):.3f} s over {len(plan_times)} runs (budget < 2 s)"
    )

    from offline.policy_runner import evaluate_export

    export = stack_export(run_program(config))
    policy_config = PROJECT_ROOT / "policies" / "config" / "prod.json"
    evaluate_export(scaled_export(export, 100), policy_config)  # warm
    per_resource = []
    for count in (1_000, 5_000, 10_000):
        document = scaled_export(export, count)
        seconds = min(_time(lambda document=document: evaluate_export(document, policy_config), 2))
        per_resource.append(seconds / count * 1e6)
        print(f"policy evaluation, {count:>6} resources: {seconds:.3f} s ({seconds / count * 1e6:.1f} us/resource)")
    print(f"linearity: per-resource cost at 10,000 is {per_resource[-1] / per_resource[0]:.2f}x that at 1,000")
    return 0


if __name__ == "__main__":
    sys.exit(main())
