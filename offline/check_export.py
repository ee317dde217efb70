"""``ack-alluxio-check-export EXPORT [POLICY_CONFIG]``: the policy gate for any stack's export.

Reads a ``pulumi stack export`` file, evaluates the policy pack on it with pulumi-policy's own
analyzer (``ack_alluxio_training.offline.policy_runner``) and prints the report. Exit codes: 0 no
mandatory violation, 1 mandatory violations, 2 a file that is not a stack export with resources (see
``export_file``) or an invalid policy config, 3 an internal error (one line saying where to report
it, never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ack_alluxio_training.offline.cli_errors import EXIT_INTERNAL_ERROR as EXIT_INTERNAL_ERROR
from ack_alluxio_training.offline.cli_errors import internal_error_line
from ack_alluxio_training.offline.export_file import DEFAULT_MAX_BYTES, load_stack_export
from ack_alluxio_training.offline.policy_runner import (
    ExportError,
    PolicyConfigError,
    evaluate,
    load_policy_config,
)
from ack_alluxio_training.offline.policy_runner.resources import collector_paused
from ack_alluxio_training.offline.process_exit import exit_now

EXIT_PASSED = 0
EXIT_MANDATORY_VIOLATIONS = 1
EXIT_BAD_INPUT = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ack_alluxio_training.offline.check_export",
        description="Evaluate the ack-alluxio-training policy pack on a `pulumi stack export` file.",
    )
    parser.add_argument("export", help="file written by `pulumi stack export`")
    parser.add_argument("policy_config", nargs="?", help="policy config JSON (as for --policy-pack-config)")
    parser.add_argument("--max-mib", type=int, default=DEFAULT_MAX_BYTES // 2**20,
                        help="refuse exports larger than this many MiB (default %(default)s)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check; returns the exit code instead of exiting (for tests and `make`)."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:
        return EXIT_BAD_INPUT if stop.code else EXIT_PASSED
    try:
        config = load_policy_config(args.policy_config) if args.policy_config else None
        # one pause of the collector over reading and evaluating: the decoded export is acyclic
        with collector_paused():
            resources = load_stack_export(args.export, args.max_mib * 2**20)
            report = evaluate(resources, config)
    except PolicyConfigError as error:
        print(f"check-export: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ExportError as error:
        print(f"check-export: cannot read the export: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except Exception as error:  # a failure that is not a verdict must not read as "violations" (exit 1)
        print(internal_error_line("check-export", error), file=sys.stderr)
        return EXIT_INTERNAL_ERROR
    print(report.render())
    if not report.passed:
        print(f"check-export: exit {EXIT_MANDATORY_VIOLATIONS} (mandatory violations)", file=sys.stderr)
        return EXIT_MANDATORY_VIOLATIONS
    return EXIT_PASSED


if __name__ == "__main__":
    exit_now(main())
