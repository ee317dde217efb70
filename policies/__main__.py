"""Entry point the Pulumi CLI runs: construct the one PolicyPack (it serves gRPC until killed).

The rules come from the installed ``ack_alluxio_training`` distribution (this repository's
``.venv`` installs it editable; a published pack installs it from ``requirements.txt``), so the
CLI, the offline runner and the tests evaluate the same modules. Nothing may import this module.
"""

from pulumi_policy import PolicyPack

from ack_alluxio_training.policies.pack import DEFAULT_ENFORCEMENT_LEVEL, DESCRIPTION, PACK_NAME, all_policies

PolicyPack(
    name=PACK_NAME,
    policies=list(all_policies()),
    enforcement_level=DEFAULT_ENFORCEMENT_LEVEL,
    description=DESCRIPTION,
)
