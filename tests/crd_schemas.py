"""Strict validation of custom resources against the operators' real CRDs (shared by the tests).

The CRDs live in ../shared/reference/crds (not part of the project): tests that need them skip
when the folder is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

CRDS = Path(__file__).resolve().parents[2] / "shared" / "reference" / "crds"

#: Short name -> (CRD file under CRDS, served version).
CRD_FILES = {
    "mpijob": ("mpi-operator-v0.8.2/kubeflow.org_mpijobs.yaml", "v2beta1"),
    "tfjob": ("kubeflow-training-operator-v1.9.4/kubeflow.org_tfjobs.yaml", "v1"),
    "pytorchjob": ("kubeflow-training-operator-v1.9.4/kubeflow.org_pytorchjobs.yaml", "v1"),
    "trainjob": ("kubeflow-trainer-v2.3.0/trainer.kubeflow.org_trainjobs.yaml", "v1alpha1"),
    "podmonitor": ("prometheus-operator-v0.93.0/monitoring.coreos.com_podmonitors.yaml", "v1"),
    "servicemonitor": ("prometheus-operator-v0.93.0/monitoring.coreos.com_servicemonitors.yaml", "v1"),
    "prometheusrule": ("prometheus-operator-v0.93.0/monitoring.coreos.com_prometheusrules.yaml", "v1"),
}
#: Kind -> short name, for manifests read back from a plan.
CUSTOM_KINDS = {
    "MPIJob": "mpijob", "TFJob": "tfjob", "PyTorchJob": "pytorchjob", "TrainJob": "trainjob",
    "PodMonitor": "podmonitor", "ServiceMonitor": "servicemonitor", "PrometheusRule": "prometheusrule",
}  # fmt: skip


def strict_schema(node: Any) -> Any:
    """A CRD schema where unknown fields are errors (as the API server prunes them silently)."""
    if isinstance(node, list):
        return [strict_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    result = {key: strict_schema(value) for key, value in node.items()}
    if result.pop("x-kubernetes-int-or-string", False):
        result.pop("type", None)
        result["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if "properties" in result and "additionalProperties" not in result and not result.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        result["additionalProperties"] = False
    return result


def crd_validator(kind: str) -> jsonschema.protocols.Validator:
    """A strict validator for one custom resource kind (short name); skips without the CRDs."""
    if not CRDS.is_dir():
        pytest.skip(f"operator CRDs not available at {CRDS}")
    path, version = CRD_FILES[kind]
    document = yaml.safe_load((CRDS / path).read_text())
    [served] = [v for v in document["spec"]["versions"] if v["name"] == version]
    schema = strict_schema(served["schema"]["openAPIV3Schema"])
    return jsonschema.Draft7Validator(schema)
