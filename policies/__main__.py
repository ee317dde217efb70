"""Entry point the Pulumi CLI runs: construct the one PolicyPack (it serves gRPC until killed).

The CLI starts this file with ``policies/`` as the working directory and ``sys.path[0]``, so the
repository root goes on the path first and the rules are imported as ``policies.<module>``, the
same modules the offline runner and the tests import. Nothing may import this module.
"""

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parent.parent)
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from pulumi_policy import PolicyPack  # noqa: E402

from policies.pack import DEFAULT_ENFORCEMENT_LEVEL, DESCRIPTION, PACK_NAME, all_policies  # noqa: E402

PolicyPack(
    name=PACK_NAME,
    policies=list(all_policies()),
    enforcement_level=DEFAULT_ENFORCEMENT_LEVEL,
    description=DESCRIPTION,
)
