"""Exit codes and the last-resort error line shared by the offline commands.

0 fine, 1 mandatory policy violation, 2 bad input (the message names the key or file), 3 an
unexpected internal error. A crash must never read as a verdict: exit 1 would tell CI "the policy
pack found violations" when nothing was checked. The internal-error line is one line, without a
traceback (which could print config values), and says where to report it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

EXIT_OK: Final = 0
EXIT_POLICY_VIOLATION: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_INTERNAL_ERROR: Final = 3

REPORT_TO: Final = (
    "please report it to the ack-alluxio-training maintainers (README.md, 'Reporting a problem') "
    "with the command you ran and your stack file without its secrets"
)
_MAX_DETAIL: Final = 200
_HIDDEN: Final = "[secret]"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret value (three characters or more) replaced by a marker."""
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, _HIDDEN)
    return text


def internal_error_line(prog: str, error: BaseException, secrets: Iterable[str] = ()) -> str:
    """One line for an unexpected exception: its type, the start of its message, where to report."""
    detail = " ".join(str(error).split())
    detail = scrub(detail, secrets)
    if len(detail) > _MAX_DETAIL:
        detail = detail[: _MAX_DETAIL - 3] + "..."
    kind = type(error).__name__
    return f"{prog}: exit {EXIT_INTERNAL_ERROR}: internal error ({kind}: {detail or 'no message'}); {REPORT_TO}"
