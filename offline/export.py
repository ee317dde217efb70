"""Turn a mock-engine run into ``pulumi stack export`` shape and plan files.

No plan file can leak a credential: ``resources.json`` has secrets redacted to the
ciphertext-shaped marker the real export uses; manifests and Helm values, which other tools read,
get a placeholder value in the secret's place so they stay valid.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from ack_alluxio_training.offline.mock_engine import (
    SECRET_PLACEHOLDER,
    PlanResult,
    RecordedResource,
    placeholder_secrets,
    redact_secrets,
)

STACK_TYPE = "pulumi:pulumi:Stack"
HELM_RELEASE_TYPE = "kubernetes:helm.sh/v3:Release"


def stack_urn(result: PlanResult) -> str:
    return f"urn:pulumi:{result.stack}::{result.project}::{STACK_TYPE}::{result.project}-{result.stack}"


def _provider_reference(resource: RecordedResource) -> str:
    return resource.provider


def export_resource(resource: RecordedResource, default_parent: str) -> dict[str, Any]:
    """One resource as ``pulumi stack export`` writes it (secrets redacted)."""
    entry: dict[str, Any] = {
        "urn": resource.urn,
        "custom": resource.custom,
        "type": resource.type,
        "inputs": redact_secrets(resource.raw_inputs),
        "outputs": redact_secrets(resource.outputs) if resource.custom else {},
        "parent": resource.parent or default_parent,
    }
    if resource.custom:
        entry["id"] = resource.id
    if resource.protect:
        entry["protect"] = True
    if resource.retain_on_delete:
        entry["retainOnDelete"] = True
    if resource.dependencies:
        entry["dependencies"] = resource.dependencies
    if resource.provider:
        entry["provider"] = _provider_reference(resource)
    if resource.additional_secret_outputs:
        entry["additionalSecretOutputs"] = resource.additional_secret_outputs
    return entry


def stack_export(result: PlanResult) -> dict[str, Any]:
    """The whole run as a ``pulumi stack export`` document (version 3)."""
    root = stack_urn(result)
    resources = [
        {"urn": root, "custom": False, "type": STACK_TYPE, "inputs": {}, "outputs": redact_secrets(result.outputs)}
    ]
    resources += [export_resource(r, root) for r in result.resources]
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "1970-01-01T00:00:00Z", "magic": "", "version": "offline-plan"},
            "secrets_providers": {"type": "offline-plan"},
            "resources": resources,
        },
    }


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def is_manifest(resource: RecordedResource) -> bool:
    """Kubernetes objects (not providers, Helm releases or components) that have a manifest."""
    return (
        resource.custom
        and resource.type.startswith("kubernetes:")
        and resource.type != HELM_RELEASE_TYPE
        and "kind" in resource.raw_inputs
    )


def _placeholder_header(resource: RecordedResource) -> str:
    """A comment saying which values are placeholders, for a manifest that has secrets."""
    paths = resource.secret_input_paths
    if not paths:
        return ""
    shown = ", ".join(paths)
    return f"# secret values ({shown}) are the placeholder {SECRET_PLACEHOLDER!r}: a plan holds no credential\n"


def write_plan_files(result: PlanResult, out_dir: Path) -> list[Path]:
    """resources.json, each Helm release's values and each Kubernetes manifest, as YAML."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in list(out_dir.glob("*.yaml")) + list((out_dir / "manifests").glob("*.yaml")):
        stale.unlink()
    written = [out_dir / "resources.json"]
    written[0].write_text(json.dumps(stack_export(result), indent=2, sort_keys=False) + "\n")
    for resource in result.resources:
        # Files other tools read (helm, kubectl, scanners) get placeholders, never markers as keys.
        inputs = placeholder_secrets(resource.raw_inputs)
        if resource.type == HELM_RELEASE_TYPE:
            path = out_dir / f"helm-values-{_file_name(resource.name)}.yaml"
            header = f"# Helm values of release {resource.name} (chart {inputs.get('chart')} {inputs.get('version')})\n"
            path.write_text(header + yaml.safe_dump(inputs.get("values", {}), sort_keys=True))
            written.append(path)
        elif is_manifest(resource):
            path = out_dir / "manifests" / f"{_file_name(resource.name)}.yaml"
            path.parent.mkdir(exist_ok=True)
            header = _placeholder_header(resource)
            path.write_text(header + yaml.safe_dump(inputs, sort_keys=False))
            written.append(path)
    return written
