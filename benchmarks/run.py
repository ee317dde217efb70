"""Measure the offline plan of the prod stack and policy evaluation as resources grow.

``make bench`` prints wall times: the plan (program under the mock engine, imports cached; budget
< 2 s) and the policy pack (prod policy config) on 1,000 / 5,000 / 10,000 resources (budget < 5 s at
10,000) for several mixes:

- ``mixed``: the prod stack's export repeated (unique URNs) up to the count;
- ``helm``, ``mpijob``, ``job``: a stack made only of one heavy type, the prod export's Helm releases
  of chart alluxio (the cache and the FUSE release, alternately), its MPIJob, its batch Job, copied
  with unique URNs (plus the stack and provider resources the copies refer to).

Each case is timed as ``make plan``/``make check-export`` run it. The per-resource cost should stay
flat from 1,000 to 10,000 resources (linear scaling).
"""

from __future__ import annotations

import copy
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any, Final

from ack_alluxio_training.offline.export import stack_export
from ack_alluxio_training.offline.mock_engine import run_program
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT, load_stack_config

COUNTS: Final = (1_000, 5_000, 10_000)
BUDGET_SECONDS: Final = 5.0
#: The homogeneous cases: name and the resource type copied.
HEAVY_TYPES: Final = (
    ("helm", "kubernetes:helm.sh/v3:Release"),
    ("mpijob", "kubernetes:kubeflow.org/v2beta1:MPIJob"),
    ("job", "kubernetes:batch/v1:Job"),
)
#: Resources kept once in a homogeneous case: what the copies refer to.
_KEPT_PREFIXES: Final = ("pulumi:pulumi:Stack", "pulumi:providers:")


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


def homogeneous_export(export: dict[str, Any], resource_type: str, count: int) -> dict[str, Any]:
    """``count`` copies (unique URNs) of the export's resources of one type, taken in turn, plus the
    stack and provider resources they refer to."""
    base = export["deployment"]["resources"]
    kept = [copy.deepcopy(r) for r in base if r["type"].startswith(_KEPT_PREFIXES)]
    sources = [r for r in base if r["type"] == resource_type]
    if not sources:
        raise ValueError(f"the export has no {resource_type}")
    copies = []
    for index in range(count):
        source = sources[index % len(sources)]
        clone = copy.deepcopy(source)
        clone["urn"] = f"{source['urn']}-{index}"
        copies.append(clone)
    document = copy.deepcopy({k: v for k, v in export.items() if k != "deployment"})
    document["deployment"] = {**{k: v for k, v in export["deployment"].items() if k != "resources"},
                              "resources": kept + copies}
    return document


def _measure(evaluate: Callable[[dict[str, Any]], Any], build: Callable[[int], dict[str, Any]]) -> list[float]:
    """Best-of-2 seconds at each count."""
    seconds = []
    for count in COUNTS:
        document = build(count)
        seconds.append(min(_time(lambda document=document: evaluate(document), 2)))
    return seconds


def _row(label: str, seconds: list[float]) -> str:
    cells = "  ".join(
        f"{count:>6,}: {s:6.3f} s {s / count * 1e6:5.0f} us/res" for count, s in zip(COUNTS, seconds, strict=True)
    )
    linear = (seconds[-1] / COUNTS[-1]) / (seconds[0] / COUNTS[0])
    return f"  {label:<22} {cells}  (10k/1k per resource {linear:.2f}x)"


def main() -> int:
    config = load_stack_config("prod")
    run_program(config)  # warm: imports and first-run caches
    plan_times = _time(lambda: run_program(config), 5)
    print(
        f"plan prod (mock engine, imports cached): median {statistics.median(plan_times):.3f} s, "
        f"max {max(plan_times):.3f} s over {len(plan_times)} runs (budget < 2 s)"
    )

    from ack_alluxio_training.offline.policy_runner import evaluate_export

    export = stack_export(run_program(config))
    policy_config = PROJECT_ROOT / "policies" / "config" / "prod.json"
    evaluate_export(scaled_export(export, 100), policy_config)  # warm

    def evaluate(document: dict[str, Any]) -> Any:
        return evaluate_export(document, policy_config)

    cases: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
        ("mixed (prod stack)", lambda count: scaled_export(export, count)),
        *[(f"{name} only", lambda count, t=resource_type: homogeneous_export(export, t, count))
          for name, resource_type in HEAVY_TYPES],
    ]
    print(f"policy evaluation, prod policy config, best of 2 runs (budget < {BUDGET_SECONDS:g} s at "
          f"{COUNTS[-1]:,} resources)")
    worst = 0.0
    for label, build in cases:
        default = _measure(evaluate, build)
        worst = max(worst, default[-1])
        verdict = "ok" if default[-1] < BUDGET_SECONDS else "OVER BUDGET"
        print(f"{label}: {default[-1]:.3f} s at {COUNTS[-1]:,} resources [{verdict}]")
        print(_row("offline runner", default))
    print(f"slowest case at {COUNTS[-1]:,} resources: {worst:.3f} s (budget < {BUDGET_SECONDS:g} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
