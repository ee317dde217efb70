"""``make plan``: run a stack's program offline, write the plan files, evaluate the policy pack.

Exit codes: 0 fine, 1 mandatory policy violation, 2 invalid config (the message names the key or
the file and line), 3 an unexpected internal error (one line saying where to report it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ack_alluxio_training.offline import chart_render
from ack_alluxio_training.offline.cli_errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
    EXIT_OK,
    EXIT_POLICY_VIOLATION,
    internal_error_line,
)
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
from ack_alluxio_training.policy_config import stack_policy_config_path
from ack_alluxio_training.settings import SettingsError, settings_from_config

#: The code of invalid input (kept under its former name for callers).
EXIT_INVALID_CONFIG = EXIT_BAD_INPUT


def plan_stack(config: StackConfig) -> PlanResult:
    """Validate the stack's settings, then run the program under the mock engine."""
    settings_from_config(config.values, config.secret_keys, project_root=PROJECT_ROOT)  # fails before registration
    return run_program(config)


def policy_config_path(config: StackConfig) -> Path:
    """The policy config for this stack: its own setting, else policies/config/<environment>.json."""
    settings = settings_from_config(config.values, config.secret_keys, project_root=PROJECT_ROOT)
    return stack_policy_config_path(settings.policy.config_file, str(settings.environment), PROJECT_ROOT)


def _write_rendered(result: PlanResult, out_dir: Path, chart: Path | None) -> list[Path]:
    """``rendered/``: the releases as Helm renders them, or one line saying why not."""
    try:
        releases = chart_render.render_plan(result, chart)
    except chart_render.RenderUnavailableError as exc:
        print(f"\nrendered/: skipped: {exc}")
        return []
    print(f"\n{chart_render.describe(releases)}")
    return chart_render.write_rendered(releases, out_dir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="plan", description=__doc__)
    parser.add_argument("--stack", default="dev")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default build/plan/<stack>)")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    parser.add_argument("--stacks-dir", type=Path, default=STACKS_DIR, help="folder of Pulumi.<stack>.yaml files")
    parser.add_argument("--chart", type=Path, default=None,
                        help=f"alluxio chart (directory or .tgz) to render the releases with "
                             f"(default: ${chart_render.CHART_ENV}, else the reference copy beside the repository)")
    return parser


def run_plan(config: StackConfig, out_dir: Path, *, policy: bool = True, chart: Path | None = None) -> int:
    """Plan one stack's config: validate, run, write the plan files, evaluate the pack; the exit code.

    Bad input raises :class:`SettingsError` (or the policy runner's ``PolicyConfigError``) for
    :func:`main` to report; nothing is written before the settings are valid.
    """
    result = plan_stack(config)
    written = write_plan_files(result, out_dir) + write_dashboards(result, out_dir)
    print(render_tree(result, f"ack-alluxio-training-{config.stack}"))
    print("\n" + "\n".join(monitoring_summary(result, out_dir)))
    written += _write_rendered(result, out_dir, chart)
    # No timing here: the printed plan is compared run to run (speed is measured by `make bench`).
    print(f"\nWrote {len(written)} files to {out_dir}")
    if not policy:
        return EXIT_OK
    from ack_alluxio_training.offline.policy_runner import evaluate_export

    report = evaluate_export(stack_export(result), policy_config_path(config))
    print()
    print(report.render())
    if report.mandatory_violations:
        print(f"plan: exit 1: {len(report.mandatory_violations)} mandatory policy violation(s)", file=sys.stderr)
        return EXIT_POLICY_VIOLATION
    return EXIT_OK


def secret_values(config: StackConfig | None) -> list[str]:
    """The stack's secret config values, to keep them out of any message."""
    if config is None:
        return []
    return [config.values[key] for key in sorted(config.secret_keys) if key in config.values]


def main(argv: list[str] | None = None) -> int:
    """``make plan``; returns the exit code (0, 1, 2 or 3: see the module docstring)."""
    from ack_alluxio_training.offline.policy_runner import PolicyConfigError

    args = _parser().parse_args(argv)
    config: StackConfig | None = None
    try:
        config = load_stack_config(args.stack, args.stacks_dir)
        out_dir = args.out or PROJECT_ROOT / "build" / "plan" / args.stack
        return run_plan(config, out_dir, policy=not args.no_policy, chart=args.chart)
    except StackNotFoundError as exc:
        print(f"plan: exit 2: {exc}", file=sys.stderr)
    except SettingsError as exc:
        print(f"plan: exit 2: stack '{args.stack}': {exc}", file=sys.stderr)
    except PolicyConfigError as exc:
        print(f"plan: exit 2: policy config: {exc}", file=sys.stderr)
    except Exception as exc:  # anything else is our bug, never a verdict (exit 1) nor a traceback
        print(internal_error_line("plan", exc, secret_values(config)), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
