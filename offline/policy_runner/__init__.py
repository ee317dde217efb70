"""Evaluate the policy pack offline with pulumi-policy's own policies and rules, the way the Pulumi CLI does.

There is no second rule engine here: the pack's policies run as pulumi-policy runs them, on the
requests the CLI would send. The package is split by job:

- :mod:`.resources`: reading ``pulumi stack export`` files and documents and the mock engine's plans;
- :mod:`.engine_values`: the engine's markers (secrets, assets, unknowns) and the wire Struct;
- :mod:`.config`: the pack as ``GetAnalyzerInfo`` describes it, policy config and levels as the CLI
  resolves them;
- :mod:`.evaluation`: the order of the calls (remediate, analyze, analyze the stack) and routing;
- :mod:`.direct`: the fast path, the policies called through pulumi-policy's public API with each
  resource's properties converted once (guarded by a version check; its contract is its docstring);
- :mod:`.servicer`: the plain path, pulumi-policy's analyzer servicer as it is;
- :mod:`.report`: violations, remediations and the report as text;
- :mod:`.served`: the pack served over gRPC as the CLI launches it (the parity test and the benchmark
  compare against it).
"""

from ack_alluxio_training.offline.policy_runner.config import (
    LEVELS,
    PolicyConfigError,
    PolicyInfo,
    ResolvedPolicy,
    load_policy_config,
    pack_info,
    parse_policy_config,
    resolve_policy_config,
)
from ack_alluxio_training.offline.policy_runner.engine_values import UNKNOWN_VALUE
from ack_alluxio_training.offline.policy_runner.evaluation import (
    PolicyRunner,
    environment_config_path,
    evaluate,
    evaluate_export,
    evaluate_plan,
    runner_for,
)
from ack_alluxio_training.offline.policy_runner.report import PolicyReport, Remediation, Violation
from ack_alluxio_training.offline.policy_runner.resources import (
    EngineResource,
    ExportError,
    export_shape,
    load_export,
    resources_from_export,
    resources_from_plan,
)

__all__ = [
    "LEVELS",
    "UNKNOWN_VALUE",
    "EngineResource",
    "ExportError",
    "PolicyConfigError",
    "PolicyInfo",
    "PolicyReport",
    "PolicyRunner",
    "Remediation",
    "ResolvedPolicy",
    "Violation",
    "environment_config_path",
    "evaluate",
    "evaluate_export",
    "evaluate_plan",
    "export_shape",
    "load_export",
    "load_policy_config",
    "pack_info",
    "parse_policy_config",
    "resolve_policy_config",
    "resources_from_export",
    "resources_from_plan",
    "runner_for",
]
