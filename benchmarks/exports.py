"""Stack exports of any size, written as files, for the benchmark.

Each mix is built from the prod stack's own export (the program under the mock engine):

- ``mixed``: the whole prod export repeated (unique URNs) up to the count;
- ``helm``, ``mpijob``, ``job``: only one heavy type, the prod export's Helm releases of chart alluxio
  (the cache and the FUSE release in turn), its MPIJob, its batch Job, copied with unique URNs,
  plus the stack and provider resources the copies refer to.

Copies are written as text (each source resource encoded once, its URN substituted), so a
100,000-resource file takes seconds to write, not minutes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

#: The mixes: name -> the resource type copied (None: the whole export).
MIXES: Final[dict[str, str | None]] = {
    "mixed": None,
    "helm": "kubernetes:helm.sh/v3:Release",
    "mpijob": "kubernetes:kubeflow.org/v2beta1:MPIJob",
    "job": "kubernetes:batch/v1:Job",
}
#: Resources kept once in a homogeneous mix: what the copies refer to.
_KEPT_PREFIXES: Final = ("pulumi:pulumi:Stack", "pulumi:providers:")
_URN_MARK: Final = "\x00urn\x00"


def _template(resource: dict[str, Any]) -> tuple[str, str]:
    """The resource as JSON with its URN left out, and that URN."""
    text = json.dumps({**resource, "urn": _URN_MARK})
    return text, resource["urn"]


def _copies(sources: list[dict[str, Any]], count: int, cycle: bool) -> Iterator[str]:
    templates = [_template(r) for r in sources]
    for index in range(count):
        text, urn = templates[index % len(templates)]
        suffix = f"-{index // len(templates)}" if cycle else f"-{index}"
        yield text.replace(json.dumps(_URN_MARK), json.dumps(urn + suffix), 1)


def resource_texts(export: dict[str, Any], mix: str, count: int) -> Iterator[str]:
    """The resources of ``mix`` at ``count`` resources, each as JSON text."""
    base = export["deployment"]["resources"]
    kind = MIXES[mix]
    if kind is None:
        yield from _copies(base, count, cycle=True)
        return
    kept = [r for r in base if r["type"].startswith(_KEPT_PREFIXES)]
    sources = [r for r in base if r["type"] == kind]
    if not sources:
        raise ValueError(f"the export has no {kind}")
    yield from (json.dumps(r) for r in kept)
    yield from _copies(sources, count, cycle=False)


def write_export(export: dict[str, Any], mix: str, count: int, path: Path) -> Path:
    """Write the export of ``mix`` at ``count`` resources to ``path``, in ``pulumi stack export`` layout."""
    head = {k: v for k, v in export.items() if k != "deployment"}
    deployment = {k: v for k, v in export["deployment"].items() if k != "resources"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        out.write(json.dumps({**head, "deployment": {**deployment, "resources": []}})[:-3])
        for index, text in enumerate(resource_texts(export, mix, count)):
            out.write(text if index == 0 else "," + text)
        out.write("]}}")
    return path
