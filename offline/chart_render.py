"""Render each planned Helm release with a real Helm engine: ``build/plan/<stack>/rendered/``.

The plan's ``helm-values-*.yaml`` say what we ask of the chart; only the chart's own templates say
what that becomes on the cluster (which container gets which flag, which ConfigMap holds which
``-D`` line, which volume is a hostPath). This module hands each release's values to Helm itself,
through ``helm-python-sdk`` (Helm v4's Go SDK compiled into a shared library inside the wheel;
``Chart.render`` is ``helm template``: offline, no cluster, ``lookup`` returns nothing), then pipes
the result through the same post-renderer the release runs on the cluster
(:mod:`ack_alluxio_training.release_hardening`), and writes one YAML file per object.

Where the chart comes from, first match wins: the ``--chart`` option of the plan command, the
``ACK_ALLUXIO_CHART`` environment variable (a chart directory or a ``helm pull`` archive), then
the workplace reference copy ``<repo>/../shared/reference/alluxio/helm-chart-<version>``. Without a
chart or without the engine the plan still succeeds and says why nothing was rendered.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from ack_alluxio_training import release_hardening, versions
from ack_alluxio_training.offline.export import HELM_RELEASE_TYPE
from ack_alluxio_training.offline.mock_engine import PlanResult, placeholder_secrets
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT

CHART_ENV: Final = "ACK_ALLUXIO_CHART"
RENDERED_DIR: Final = "rendered"
#: The workplace's copy of the official chart, beside the repository (absent on a user's machine).
REFERENCE_CHART: Final = (
    PROJECT_ROOT.parent / "shared" / "reference" / "alluxio" / f"helm-chart-{versions.ALLUXIO_CHART_VERSION}"
)

PostRenderer = Callable[[str], str]


class RenderUnavailableError(Exception):
    """No chart or no Helm engine here: the plan goes on without ``rendered/`` and says why."""


@dataclass(frozen=True)
class RenderedRelease:
    """One release as Helm rendered it (after the post-renderer)."""

    release: str
    namespace: str
    objects: tuple[dict[str, Any], ...]


def chart_location(explicit: Path | None = None) -> Path:
    """The chart to render: ``explicit``, else ``$ACK_ALLUXIO_CHART``, else the reference copy."""
    if explicit is not None:
        chosen, origin = explicit, "--chart"
    elif os.environ.get(CHART_ENV):
        chosen, origin = Path(os.environ[CHART_ENV]), CHART_ENV
    else:
        chosen, origin = REFERENCE_CHART, "the reference folder"
    if not chosen.exists():
        raise RenderUnavailableError(f"no chart at {chosen} (from {origin}); give one with --chart or {CHART_ENV}")
    return chosen


def _helm() -> Any:
    """The Helm engine module; refuses cleanly when the wheel or its native library is missing."""
    try:
        import helm_python
    except (ImportError, OSError) as exc:  # OSError: the wheel's libhelm_c could not be loaded
        raise RenderUnavailableError(f"Helm engine unavailable (pip install helm-python-sdk): {exc}") from None
    return helm_python


def engine_version() -> str:
    """Which Helm renders (``helm-python-sdk`` reports the Go SDK it embeds)."""
    return str(_helm().helm_sdk_version())


def unavailable_reason(explicit: Path | None = None) -> str | None:
    """Why no render can happen here (no chart, no engine), or None when it can: what the plan
    prints as ``rendered/: skipped`` and the tests skip on."""
    try:
        chart_location(explicit)
        engine_version()
    except RenderUnavailableError as exc:
        return str(exc)
    return None


def _documents(manifests: Mapping[str, str]) -> list[dict[str, Any]]:
    """Kubernetes objects of ``helm template`` output, in template order; NOTES and empties dropped."""
    objects: list[dict[str, Any]] = []
    for template in sorted(manifests):
        if not template.endswith((".yaml", ".yml")):
            continue
        for document in yaml.safe_load_all(manifests[template]):
            if isinstance(document, dict) and document.get("kind"):
                objects.append(document)
    return objects


def render_release(
    chart: Path,
    *,
    release: str,
    namespace: str,
    values: Mapping[str, Any],
    chart_version: str,
    post_renderer: PostRenderer | None = None,
) -> RenderedRelease:
    """Render one release with Helm (and the post-renderer), as ``helm install`` would send it."""
    helm = _helm()
    with helm.Chart.load(str(chart)) as loaded:
        if loaded.version != chart_version:
            raise RenderUnavailableError(
                f"chart at {chart} is {loaded.name} {loaded.version}, the release asks for {chart_version}"
            )
        manifests = loaded.render(dict(values), name=release, namespace=namespace, is_install=True)
    objects = _documents(manifests)
    if post_renderer is not None:
        stream = yaml.safe_dump_all(objects, sort_keys=False)
        objects = [d for d in yaml.safe_load_all(post_renderer(stream)) if isinstance(d, dict)]
    for obj in objects:
        # helm install puts namespaced objects into the release namespace when the template omits it.
        obj.setdefault("metadata", {}).setdefault("namespace", namespace)
    return RenderedRelease(release=release, namespace=namespace, objects=tuple(objects))


@dataclass(frozen=True)
class PlannedRelease:
    """What a planned ``helm.v3.Release`` asks Helm for."""

    name: str
    namespace: str
    chart_version: str
    values: dict[str, Any]
    postrender: str | None


def post_renderer_of(release: PlannedRelease) -> PostRenderer | None:
    """The post-renderer the release names, run in-process; a command we do not ship is refused."""
    if not release.postrender:
        return None
    if release.postrender != release_hardening.POSTRENDER_COMMAND:
        raise RenderUnavailableError(
            f"release {release.name} post-renders with {release.postrender!r}, which the offline render cannot run"
        )
    return release_hardening.harden_stream


def planned_releases(result: PlanResult) -> list[PlannedRelease]:
    """Every Helm release the plan registers."""
    releases = []
    for resource in result.resources:
        if resource.type != HELM_RELEASE_TYPE:
            continue
        inputs = placeholder_secrets(resource.raw_inputs)
        releases.append(
            PlannedRelease(
                name=str(inputs.get("name") or resource.name),
                namespace=str(inputs.get("namespace") or "default"),
                chart_version=str(inputs.get("version") or versions.ALLUXIO_CHART_VERSION),
                values=dict(inputs.get("values") or {}),
                postrender=inputs.get("postrender") or None,
            )
        )
    return releases


def render_plan(result: PlanResult, chart: Path | None = None) -> list[RenderedRelease]:
    """Every release of a plan, rendered and post-rendered as its Release says (raises
    :class:`RenderUnavailableError` when it cannot be)."""
    location = chart_location(chart)
    return [
        render_release(location, release=r.name, namespace=r.namespace, values=r.values,
                       chart_version=r.chart_version, post_renderer=post_renderer_of(r))
        for r in planned_releases(result)
    ]


def _file_name(obj: Mapping[str, Any]) -> str:
    name = str(obj.get("metadata", {}).get("name", "unnamed"))
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{obj.get('kind', 'Object')}-{name}") + ".yaml"


def write_rendered(releases: Iterable[RenderedRelease], out_dir: Path) -> list[Path]:
    """``rendered/<release>/<Kind>-<name>.yaml``, one object per file; stale files removed first."""
    root = out_dir / RENDERED_DIR
    if root.exists():
        for stale in sorted(root.rglob("*.yaml")):
            stale.unlink()
    written = []
    for rendered in releases:
        folder = root / rendered.release
        folder.mkdir(parents=True, exist_ok=True)
        for obj in rendered.objects:
            path = folder / _file_name(obj)
            path.write_text(yaml.safe_dump(obj, sort_keys=False))
            written.append(path)
    return written


def rendered_objects(out_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """What :func:`write_rendered` wrote, read back per release (for the tests and the scanner)."""
    found: dict[str, list[dict[str, Any]]] = {}
    root = out_dir / RENDERED_DIR
    for path in sorted(root.glob("*/*.yaml")):
        found.setdefault(path.parent.name, []).append(yaml.safe_load(path.read_text()))
    return found


def describe(releases: Sequence[RenderedRelease]) -> str:
    """One line for the plan output."""
    count = sum(len(r.objects) for r in releases)
    return f"Rendered {count} objects of {len(releases)} Helm release(s) with Helm {engine_version()}"
