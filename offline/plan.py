"""``make plan`` / ``ack-alluxio-plan``: run a program offline, write the plan files, evaluate the pack.

Without ``--program`` it plans this repository's stacks (``make plan STACK=...``). With
``--program DIR --stack NAME`` it plans any Pulumi Python program (a consumer's stack that imports
``ack_alluxio_training``) with that program's own project name and stack config, writes the same
plan files into ``DIR/build/plan/<stack>/`` and evaluates the same pack (``--policy-config`` or
``--environment`` choose the levels; default: each policy's own level). The library call is
:func:`plan_program`.

Exit codes: 0 fine, 1 mandatory policy violation, 2 invalid config (the message names the key or
the file and line; for a consumer's program also a refused component argument or missing config),
3 an unexpected internal error (one line saying where to report it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pulumi

from ack_alluxio_training.alluxio_values import dataset_metadata, dataset_profiles
from ack_alluxio_training.offline import chart_render
from ack_alluxio_training.offline.cli_errors import (
    EXIT_BAD_INPUT,
    EXIT_INTERNAL_ERROR,
    EXIT_OK,
    EXIT_POLICY_VIOLATION,
    internal_error_line,
    scrub,
)
from ack_alluxio_training.offline.export import stack_export, write_plan_files
from ack_alluxio_training.offline.mock_engine import PlanResult, run_program
from ack_alluxio_training.offline.monitoring_plan import monitoring_summary, write_dashboards
from ack_alluxio_training.offline.plan_tree import metadata_cache_note, render_tree
from ack_alluxio_training.offline.policy_runner import (
    PolicyConfigError,
    PolicyReport,
    environment_config_path,
    evaluate_export,
)
from ack_alluxio_training.offline.program import (
    Program,
    ProgramError,
    load_program,
    program_stack_config,
    run_consumer_program,
)
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
#: Environments whose shipped policy config ``--environment`` selects for a consumer's program.
ENVIRONMENTS = ("dev", "staging", "prod")


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
    parser.add_argument("--program", type=Path, default=None,
                        help="folder of any Pulumi Python program to plan (its Pulumi.yaml and stack config)")
    parser.add_argument("--policy-config", type=Path, default=None,
                        help="with --program: a --policy-pack-config JSON file (default: each policy's own level)")
    parser.add_argument("--environment", choices=ENVIRONMENTS, default=None,
                        help="with --program: use the pack's shipped policies/config/<environment>.json")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default build/plan/<stack>)")
    parser.add_argument("--no-policy", action="store_true", help="skip the policy pack")
    parser.add_argument("--stacks-dir", type=Path, default=STACKS_DIR, help="folder of Pulumi.<stack>.yaml files")
    parser.add_argument("--chart", type=Path, default=None,
                        help=f"alluxio chart (directory or .tgz) to render the releases with "
                             f"(default: ${chart_render.CHART_ENV}, else the reference copy beside the repository)")
    return parser


def plan_files(result: PlanResult, out_dir: Path) -> list[Path]:
    """The plan files of any program: resources.json, Helm values, manifests, dashboards."""
    return write_plan_files(result, out_dir) + write_dashboards(result, out_dir)


def _report(result: PlanResult, written: list[Path], out_dir: Path, chart: Path | None,
            notes: Sequence[str] = ()) -> None:
    """Print the plan tree, notes on derived values, the monitoring summary and what was written."""
    print(render_tree(result, f"{result.project}-{result.stack}"))
    for note in notes:
        print("\n" + note)
    print("\n" + "\n".join(monitoring_summary(result, out_dir)))
    written += _write_rendered(result, out_dir, chart)
    # No timing here: the printed plan is compared run to run (speed is measured by `make bench`).
    print(f"\nWrote {len(written)} files to {out_dir}")


def _verdict(report: PolicyReport) -> int:
    """Print the report; exit 1 when a mandatory policy is violated."""
    print()
    print(report.render())
    if report.mandatory_violations:
        print(f"plan: exit 1: {len(report.mandatory_violations)} mandatory policy violation(s)", file=sys.stderr)
        return EXIT_POLICY_VIOLATION
    return EXIT_OK


def run_plan(config: StackConfig, out_dir: Path, *, policy: bool = True, chart: Path | None = None) -> int:
    """Plan one stack's config: validate, run, write the plan files, evaluate the pack; the exit code.

    Bad input raises :class:`SettingsError` (or the policy runner's ``PolicyConfigError``) for
    :func:`main` to report; nothing is written before the settings are valid.
    """
    result = plan_stack(config)
    settings = settings_from_config(config.values, config.secret_keys, project_root=PROJECT_ROOT)
    datasets = dataset_metadata(dataset_profiles(settings))
    note = metadata_cache_note(datasets, settings.alluxio.client.metadata_cache_headroom)
    _report(result, plan_files(result, out_dir), out_dir, chart, [note])
    if not policy:
        return EXIT_OK
    return _verdict(evaluate_export(stack_export(result), policy_config_path(config)))


@dataclass(frozen=True)
class ProgramPlan:
    """A planned program: what it registered, the files written, and the policy report (if asked)."""

    result: PlanResult
    written: list[Path]
    report: PolicyReport | None


def plan_loaded_program(
    program: Program,
    config: StackConfig,
    *,
    out_dir: Path | None = None,
    policy_config: Path | None = None,
    evaluate_policies: bool = True,
) -> ProgramPlan:
    """Run a loaded program with one stack's config, write its plan files, evaluate the pack."""
    result = run_consumer_program(program, config)
    written = plan_files(result, out_dir or program.directory / "build" / "plan" / config.stack)
    report = evaluate_export(stack_export(result), policy_config) if evaluate_policies else None
    return ProgramPlan(result=result, written=written, report=report)


def plan_program(
    directory: Path,
    stack: str,
    *,
    out_dir: Path | None = None,
    policy_config: Path | None = None,
    evaluate_policies: bool = True,
) -> ProgramPlan:
    """Plan any Pulumi Python program offline: run it, write the plan files, evaluate the pack.

    The program runs with its own project name and stack config (``offline/program.py``). Raises
    :class:`ProgramError` / ``StackNotFoundError`` for a folder or stack that cannot be planned, and
    whatever the program raises (a refused component argument is a ``ValueError``).
    ``policy_config`` is a ``--policy-pack-config`` file; None keeps each policy's own level.
    """
    program = load_program(directory)
    return plan_loaded_program(
        program,
        program_stack_config(program, stack),
        out_dir=out_dir,
        policy_config=policy_config,
        evaluate_policies=evaluate_policies,
    )


def _consumer_policy_config(args: argparse.Namespace) -> Path | None:
    if args.policy_config:
        return Path(args.policy_config)
    if args.environment:
        return environment_config_path(args.environment)
    return None


def _main_program(args: argparse.Namespace) -> int:
    """``--program DIR``: plan a consumer's program with its own project name and stack config."""
    directory: Path = args.program
    config: StackConfig | None = None
    try:
        program = load_program(directory)
        config = program_stack_config(program, args.stack)
        planned = plan_loaded_program(
            program,
            config,
            out_dir=args.out,
            policy_config=_consumer_policy_config(args),
            evaluate_policies=not args.no_policy,
        )
    except (ProgramError, StackNotFoundError) as exc:
        print(f"plan: exit 2: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except PolicyConfigError as exc:
        print(f"plan: exit 2: policy config: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (ValueError, pulumi.ConfigMissingError, pulumi.ConfigTypeError) as exc:
        # SettingsError, a component's ArgumentError, missing or mistyped config: refused input, named
        message = scrub(str(exc), secret_values(config))
        print(f"plan: exit 2: program {directory} stack '{args.stack}': {message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as exc:  # never a verdict (exit 1) nor a traceback
        print(internal_error_line("plan", exc, secret_values(config)), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    out_dir = args.out or planned.written[0].parent
    _report(planned.result, planned.written, out_dir, args.chart)
    return EXIT_OK if planned.report is None else _verdict(planned.report)


def secret_values(config: StackConfig | None) -> list[str]:
    """The stack's secret config values, to keep them out of any message."""
    if config is None:
        return []
    return [config.values[key] for key in sorted(config.secret_keys) if key in config.values]


def main(argv: list[str] | None = None) -> int:
    """``make plan``; returns the exit code (0, 1, 2 or 3: see the module docstring)."""
    args = _parser().parse_args(argv)
    if args.program is not None:
        return _main_program(args)
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
    from ack_alluxio_training.offline.process_exit import exit_now

    exit_now(main())
