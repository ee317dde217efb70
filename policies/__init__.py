"""The ack-alluxio-training CrossGuard policy pack: every tuning row of docs/tuning.md as a guardrail.

The rule modules (``node_pool``, ``storage``, ``alluxio``, ``fuse``, ``training``, ``stack``) are
importable from the repository root, so the offline runner (``offline/policy_runner/``) and the
tests drive exactly the policies the Pulumi CLI loads through ``policies/__main__.py``. Nothing in
this package constructs the ``PolicyPack`` except ``__main__.py``: constructing it serves gRPC
forever.
"""
