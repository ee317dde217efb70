"""Read the file handed to ``check-export`` strictly: a ``pulumi stack export`` with resources, or a refusal.

A CI gate that is given the wrong file must fail, not pass: an empty object, a bare list, the output
of ``pulumi preview --json`` or the export of a stack that was never deployed all carry no resource
the pack could check, and "0 resources checked ... PASSED" would read as a green light. Each
refusal says what was found and what was expected, so the caller can fix the pipeline.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ack_alluxio_training.offline.policy_runner import EngineResource, ExportError, resources_from_export
from ack_alluxio_training.offline.policy_runner.resources import read_export

#: Largest export read (bytes). A real export of thousands of resources is tens of MB; a file far
#: beyond this is not an export, and reading it whole would exhaust a CI runner's memory first.
DEFAULT_MAX_BYTES: Final = 512 * 2**20
#: Pulumi's checkpoint/deployment versions ``pulumi stack export`` writes (3 since Pulumi 3).
KNOWN_VERSIONS: Final = (1, 2, 3)
#: Resources that every stack has; a deployment with nothing else deploys nothing.
STACK_TYPE: Final = "pulumi:pulumi:Stack"
PROVIDER_TYPE_PREFIX: Final = "pulumi:providers:"

EXPECTED: Final = (
    'expected the output of `pulumi stack export`: {"version": 3, "deployment": {"resources": [...]}} '
    "from a deployed stack"
)


def _refuse(path: str | Path, found: str) -> ExportError:
    return ExportError(f"{path}: {found}; {EXPECTED}")


def _check_size(path: str | Path, max_bytes: int) -> None:
    """Refuse a directory and a file above ``max_bytes``."""
    file = Path(path)
    if file.is_dir():
        raise _refuse(path, "is a directory")
    try:
        size = file.stat().st_size
    except OSError as error:
        raise ExportError(f"{path}: cannot read ({error.strerror or error})") from error
    if size > max_bytes:
        raise _refuse(path, f"is {size / 2**20:.0f} MiB, above the {max_bytes / 2**20:.0f} MiB limit")


def read_text(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """The file's text, refusing a directory, a file above ``max_bytes`` and text that is not UTF-8."""
    _check_size(path, max_bytes)
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ExportError(f"{path}: cannot read ({error.strerror or error})") from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise _refuse(path, f"is not UTF-8 text (byte {error.start})") from error


def _describe_other(document: Any) -> str:
    """What a JSON document that is not a stack export looks like, in words."""
    if isinstance(document, list):
        return f"is a JSON array of {len(document)} item(s), not a stack export object"
    if not isinstance(document, Mapping):
        return f"is a JSON {type(document).__name__}, not a stack export object"
    if not document:
        return "is an empty JSON object"
    if "steps" in document:
        return "looks like `pulumi preview --json` output (it has 'steps'), which holds planned changes, not state"
    if "resources" in document:
        return "has 'resources' at the top level but no 'deployment' (not the `pulumi stack export` layout)"
    return f"has no 'deployment' object (top-level keys: {', '.join(sorted(map(str, document))[:8])})"


def deployment_resources(document: Any, path: str | Path = "export") -> list[Any]:
    """The raw ``deployment.resources`` list of a stack export document, or a refusal."""
    if not isinstance(document, Mapping) or not isinstance(document.get("deployment"), Mapping):
        raise _refuse(path, _describe_other(document))
    version = document.get("version")
    if version is not None and (isinstance(version, bool) or version not in KNOWN_VERSIONS):
        raise _refuse(path, f"has version {version!r}, which is not one `pulumi stack export` writes "
                            f"({', '.join(map(str, KNOWN_VERSIONS))})")
    items = document["deployment"].get("resources")
    if items is None:
        raise _refuse(path, "has a deployment without resources (the stack has never been deployed)")
    if not isinstance(items, list):
        raise _refuse(path, f"has deployment.resources of type {type(items).__name__}, not a list")
    return items


def _deploys_something(resources: list[EngineResource]) -> bool:
    return any(r.type != STACK_TYPE and not r.type.startswith(PROVIDER_TYPE_PREFIX) for r in resources)


SECRET_SIGNATURE: Final = "4dabf18193072939515e22adb298388d"


def outputs_filled_from_inputs(outputs: Any, inputs: Any) -> Any:
    """``outputs`` with what only ``inputs`` hold added, key by key (outputs win where both have a value).

    Stack rules read a resource's state (its outputs), but providers do not echo every input: a
    Helm release's state can lack nested values, a component's state holds none. What the stack
    asked for is then the best knowledge of what it runs. Secrets and lists are taken whole.
    """
    if outputs is inputs:  # the reader shares equal values between inputs and outputs: nothing to fill
        return outputs
    if not isinstance(outputs, Mapping) or not isinstance(inputs, Mapping):
        return inputs if outputs is None else outputs
    if SECRET_SIGNATURE in outputs or SECRET_SIGNATURE in inputs:
        return outputs
    filled = dict(outputs)
    for key, wanted in inputs.items():
        filled[key] = outputs_filled_from_inputs(outputs.get(key), wanted) if key in outputs else wanted
    return filled


def _with_filled_outputs(resource: EngineResource) -> EngineResource:
    if not resource.outputs:
        return resource  # the runner then reads the inputs themselves
    return dataclasses.replace(resource, outputs=outputs_filled_from_inputs(resource.outputs, resource.inputs))


def resources_of(
    document: Any, path: str | Path = "export", resources: list[EngineResource] | None = None,
) -> list[EngineResource]:
    """The checkable resources of a stack export document (``resources``: already read from it);
    refuses one that deploys nothing. A resource's state is filled from its inputs where it lacks a value."""
    items = deployment_resources(document, path)
    if resources is None:
        resources = resources_from_export(document)
    resources = [_with_filled_outputs(r) for r in resources]
    if not _deploys_something(resources):
        kinds = sorted({r.type for r in resources}) or ["nothing"]
        raise ExportError(
            f"{path}: the deployment holds only {', '.join(kinds)} ({len(items)} entries): there is nothing for the "
            "policy pack to check; export a stack that has been deployed (`pulumi up`), or check the stack name"
        )
    return resources


def load_stack_export(path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> list[EngineResource]:
    """Read and check a ``pulumi stack export`` file; :class:`ExportError` names what is wrong."""
    _check_size(path, max_bytes)
    resources: list[EngineResource] | None
    try:
        # streamed, numbers as doubles, the collector paused, per-resource marker flags
        # (see policy_runner.resources)
        document, resources = read_export(path)
    except ExportError:  # not export-shaped: decoded plainly, so that the refusal can say what it is
        document, resources = json.loads(read_text(path, max_bytes)), None
    except UnicodeDecodeError as error:
        raise _refuse(path, f"is not UTF-8 text (byte {error.start})") from error
    except OSError as error:
        raise ExportError(f"{path}: cannot read ({error.strerror or error})") from error
    except json.JSONDecodeError as error:
        raise _refuse(path, f"is not JSON ({error.msg} at line {error.lineno}, column {error.colno})") from error
    return resources_of(document, path, resources)
