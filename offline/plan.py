"""``make plan``: run a stack's program offline, write the plan files, evaluate the policy pack.

Exit codes: 0 fine, 1 mandatory policy violation, 2 invalid config (message names the key).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ack_alluxio_training.offline import chart_render
from ack_alluxio_training.offline.export import stack_export, write_plan_files
from ack_alluxio_training.offline.mock_engine import PlanResult, run_program
from ack_alluxio_training.offline.monitoring_plan import monitoring_summary, write_dashboards
from ack_alluxio_training.offline.plan_tree import render_tree
from ack_alluxio_training.offline.stack_config import (
    PROJECT_ROOT,
    STACKS_DIR,
    StackConfig,
    StackNotFoundError,
    load_stack_config,
)
from ack_alluxio_training.settings import SettingsError, settings_from_config

EXIT_OK = 0
EXIT_POLICY_VIOLATION = 1
EXIT_INVALID_CONFIG = 2


def plan_stack(config: StackConfig) -> PlanResult:
    """Validate the stack's settings, then run the program under the mock engine."""
    settings_from_config(config.values, config.secret_keys)  # fails before any registration
    return run_program(config)


def policy_config_path(config: StackConfig) -> Path:
    """The policy config for this stack: its own setting, else policies/config/<environment>.json."""
    settings = settings_from_config(config.values, config.secret_keys)
    if settings.policy.config_file:
        return PROJECT_ROOT / settings.policy.config_file
    return PROJECT_ROOT / "policies" / "config" / f"{settings.environment}.json"


def _write_rendered(result: PlanResult, out_dir: Path, chart: Path | None) -> list[Path]:
    """``rendered/``: the releases as Helm renders them, or one line saying why not."""
    try:
        releases = chart_render.render_plan(result, chart)
    except chart_render.RenderUnavailableError as exc:
        print(f"\nrendered/: skipped: {exc}")
        return []
    print(f"\n{chart_render.describe(releases)}")
    return chart_render.write_rendered(releases, out_dir)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plan", description=__doc__)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default build/plan/<stack>)")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    parser.add_argument("--stacks-dir", type=Path, default=STACKS_DIR, help="folder of Pulumi.<stack>.yaml files")
    parser.add_argument("--chart", type=Path, default=None,
                        help=f"alluxio chart (directory or .tgz) to render the releases with "
                             f"(default: ${chart_render.CHART_ENV}, else the reference copy beside the repository)")
    args = parser.parse_args(argv)
    try:
        config = load_stack_config(args.stack, args.stacks_dir)
        result = plan_stack(config)
    except StackNotFoundError as exc:
        print(f"plan: exit 2: {exc}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    except SettingsError as exc:
        print(f"plan: exit 2: stack '{args.stack}': {exc}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    out_dir = args.out or PROJECT_ROOT / "build" / "plan" / args.stack
    written = write_plan_files(result, out_dir) + write_dashboards(result, out_dir)
    print(render_tree(result, f"ack-alluxio-training-{args.stack}"))
    print("\n" + "\n".join(monitoring_summary(result, out_dir)))
    written += _write_rendered(result, out_dir, args.chart)
    # No timing here: the printed plan is compared run to run (speed is measured by `make bench`).
    print(f"\nWrote {len(written)} files to {out_dir}")
    if args.no_policy:
        return EXIT_OK
    from ack_alluxio_training.offline.policy_runner import PolicyConfigError, evaluate_export

    try:
        report = evaluate_export(stack_export(result), policy_config_path(config))
    except PolicyConfigError as exc:
        print(f"plan: exit 2: policy config: {exc}", file=sys.stderr)
        return EXIT_INVALID_CONFIG
    print()
    print(report.render())
    if report.mandatory_violations:
        print(f"plan: exit 1: {len(report.mandatory_violations)} mandatory policy violation(s)", file=sys.stderr)
        return EXIT_POLICY_VIOLATION
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
