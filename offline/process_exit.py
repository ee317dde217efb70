"""Ending a command-line process without the interpreter's final sweep.

At exit CPython tears every module down and frees each object one by one; after a big export
(millions of decoded values) that alone takes about a second, for nothing the OS would not do by
releasing the process. The command-line entry points therefore flush their output and leave with
``os._exit``, keeping the exit code. Only for ``__main__`` blocks: a library must never do this.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Flush stdout and stderr, then end the process with ``code`` (no final collection)."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: the exit code still has to reach the caller
        code = code or 1
    os._exit(code)
