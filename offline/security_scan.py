"""Checkov's Kubernetes checks over everything a stack deploys, against SECURITY.md's justifications.

What is scanned, per stack: the plan's ``manifests/`` (every Kubernetes object the components
create), ``rendered/`` (the two Helm releases as Helm renders and post-renders them, when a chart
is available), and the pod templates of every training-job kind (MPIJob launcher and worker,
TFJob PS and worker, PyTorchJob master and worker, TrainJob trainer, batch Job, train and probe
modes) built from the stack's own job settings and written out as ``v1/Pod`` objects beside the
job's NetworkPolicies: Checkov does not read CRDs, so an MPIJob's pods would otherwise go unseen.

Checkov (PyPI ``checkov``, pinned in ``requirements-checkov.txt``) runs from a virtualenv of its
own (``.venv-checkov``, made by ``make``): its dependencies clash with ours. One run covers all
stacks, so the scan costs one Checkov start.

SECURITY.md's table "Accepted findings" is the allowlist: one row per check ID and object
pattern with the reason. A pattern is ``<stack>/<Checkov resource>`` (``fnmatch``: ``*`` matches any
text, so ``*/DaemonSet.alluxio.alluxio-fuse-fuse`` is that DaemonSet in every stack). A finding no row matches fails the
scan; a row that matches no finding is stale and fails it too, so the table never claims more
than the scan sees.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from ack_alluxio_training import job_manifests, network_policies, scheduling
from ack_alluxio_training.offline.stack_config import PROJECT_ROOT, available_stacks, load_stack_config
from ack_alluxio_training.settings import PlatformSettings, TrainingJobSettings, settings_from_config

CHECKOV_ENV: Final = "CHECKOV"
DEFAULT_CHECKOV: Final = PROJECT_ROOT / ".venv-checkov" / "bin" / "checkov"
SECURITY_MD: Final = PROJECT_ROOT / "SECURITY.md"
#: A command for the backends that have no built-in benchmark (the pods' shape does not depend on it).
STAND_IN_COMMAND: Final = ("torchrun", "/workspace/train.py", "--data-dir=$(DATA_DIR)")
CHECKOV_TIMEOUT_SECONDS: Final = 600
_ROW: Final = re.compile(r"^\|\s*`?(CKV2?_K8S_\d+)`?\s*\|\s*`([^`]+)`\s*\|\s*(.+?)\s*\|\s*$")


class ScanUnavailableError(Exception):
    """No Checkov here: the scan cannot run (``make setup-checkov`` installs it)."""


@dataclass(frozen=True)
class Finding:
    """One failed Checkov check on one object of one stack."""

    stack: str
    check_id: str
    resource: str
    file: str
    check_name: str

    @property
    def key(self) -> str:
        """What SECURITY.md's patterns match: ``<stack>/<Kind>.<namespace>.<name>``."""
        return f"{self.stack}/{self.resource}"

    def __str__(self) -> str:
        return f"{self.check_id} {self.key} ({self.check_name}) in {self.file}"


@dataclass(frozen=True)
class Justification:
    """A row of SECURITY.md's accepted findings."""

    check_id: str
    resource_pattern: str
    reason: str

    def covers(self, finding: Finding) -> bool:
        return finding.check_id == self.check_id and fnmatch.fnmatchcase(finding.key, self.resource_pattern)


def checkov_executable() -> Path:
    """``$CHECKOV``, else the project's ``.venv-checkov``; refuses when neither exists."""
    chosen = Path(os.environ[CHECKOV_ENV]) if os.environ.get(CHECKOV_ENV) else DEFAULT_CHECKOV
    if not chosen.is_file():
        raise ScanUnavailableError(f"no Checkov at {chosen} (run `make setup-checkov`, or set {CHECKOV_ENV})")
    return chosen


# --- what is scanned ----------------------------------------------------------------------------


def _pod(name: str, namespace: str, template: Mapping[str, Any]) -> dict[str, Any]:
    metadata = dict(template.get("metadata") or {})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {**metadata, "name": name, "namespace": namespace},
        "spec": dict(template["spec"]),
    }


def _trainer_template(spec: Mapping[str, Any]) -> dict[str, Any]:
    """The pod a TrainJob's "node" replicated job runs: the runtime patch plus ``spec.trainer``."""
    trainer = spec["trainer"]
    [patch] = spec["runtimePatches"]
    [node] = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    template = json.loads(json.dumps(node["template"]["spec"]["template"]))
    [container] = template["spec"]["containers"]
    container.update(image=trainer["image"], command=trainer["command"], env=trainer["env"],
                     resources=trainer["resourcesPerNode"])
    return dict(template)


def job_pods(manifest: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every pod template of a training-job manifest, as a ``v1/Pod`` named ``<job>-<role>``."""
    kind, spec, meta = manifest["kind"], manifest["spec"], manifest["metadata"]
    name, namespace = meta["name"], meta["namespace"]
    if kind == "Job":
        return [_pod(f"{name}-trainer", namespace, spec["template"])]
    if kind == "TrainJob":
        return [_pod(f"{name}-node", namespace, _trainer_template(spec))]
    replicas = {"MPIJob": "mpiReplicaSpecs", "TFJob": "tfReplicaSpecs", "PyTorchJob": "pytorchReplicaSpecs"}[kind]
    return [_pod(f"{name}-{role.lower()}", namespace, replica["template"])
            for role, replica in sorted(spec[replicas].items())]


def _job_variants(job: TrainingJobSettings) -> list[TrainingJobSettings]:
    """The stack's job as every backend (and, where it exists, the probe) would run it."""
    variants = []
    for backend in job_manifests.BACKENDS:
        modes = ("train", "probe") if backend in job_manifests.HOROVOD_BACKENDS else ("train",)
        for mode in modes:
            update: dict[str, Any] = {"name": f"{backend}-{mode}", "backend": backend, "mode": mode}
            if backend in job_manifests.COMMAND_REQUIRED_BACKENDS:
                update["command"] = list(STAND_IN_COMMAND)
            if backend == "job":
                update["workers"] = 1
            variants.append(job.model_copy(update=update))
    return variants


def job_kind_objects(settings: PlatformSettings) -> list[dict[str, Any]]:
    """Pods of every job kind for this stack's first job, with the NetworkPolicies they live under."""
    if not settings.jobs:
        return []
    objects: list[dict[str, Any]] = [network_policies.default_deny(job_manifests.DEFAULT_NAMESPACE)]
    for job in _job_variants(settings.jobs[0]):
        spec = job_manifests.job_spec(
            settings, job, fuse_mount_point=settings.fuse.mount_point,
            node_selector=scheduling.node_selector(), tolerations=scheduling.tolerations(),
        )
        objects += job_pods(job_manifests.job_manifest(spec))
        objects.append(network_policies.training_job_policy(spec.namespace, spec.job_name,
                                                            reaches_api_server=spec.mode == "probe"))
    return objects


def stage(stack: str, plan_dir: Path, root: Path) -> Path:
    """Copy a plan's manifests and rendered releases, and write the job-kind pods, under ``root/<stack>``."""
    target = root / stack
    for folder in ("manifests", "rendered"):
        for path in sorted((plan_dir / folder).rglob("*.yaml")):
            destination = target / folder / path.relative_to(plan_dir / folder)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_text(path.read_text())
    config = load_stack_config(stack)
    settings = settings_from_config(config.values, config.secret_keys)
    pods = target / "job-pods"
    pods.mkdir(parents=True, exist_ok=True)
    for index, obj in enumerate(job_kind_objects(settings)):
        (pods / f"{index:02d}-{obj['kind']}-{obj['metadata']['name']}.yaml").write_text(
            yaml.safe_dump(obj, sort_keys=False)
        )
    return target


# --- running Checkov and reading SECURITY.md ----------------------------------------------------


def run_checkov(root: Path, checkov: Path | None = None) -> list[Finding]:
    """Checkov's Kubernetes framework over ``root``; findings keyed by the stack folder they are in."""
    executable = checkov or checkov_executable()
    command = [str(executable), "--directory", str(root), "--framework", "kubernetes", "--output", "json",
               "--compact", "--quiet", "--skip-download"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=CHECKOV_TIMEOUT_SECONDS,
                          env={**os.environ, "BC_SKIP_MAPPING": "TRUE"})
    # Checkov exits 1 when a check failed; anything else (or no JSON) is a failure to scan.
    if done.returncode not in (0, 1) or not done.stdout.strip():
        raise RuntimeError(f"checkov exited {done.returncode}: {done.stderr.strip()[-2000:]}")
    report = json.loads(done.stdout)
    reports = report if isinstance(report, list) else [report]
    findings = []
    for part in reports:
        if part.get("summary", {}).get("parsing_errors"):
            raise RuntimeError(f"checkov could not parse: {part['results'].get('parsing_errors')}")
        for failed in part.get("results", {}).get("failed_checks", []):
            stack = failed["file_path"].lstrip("/").split("/", 1)[0]
            findings.append(Finding(stack, failed["check_id"], failed["resource"], failed["file_path"],
                                    failed.get("check_name") or ""))
    return sorted(findings, key=lambda f: (f.stack, f.resource, f.check_id))


def justifications(text: str) -> list[Justification]:
    """The rows of SECURITY.md's accepted-findings table: `CHECK` | `object pattern` | reason."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line)
        if match:
            rows.append(Justification(match.group(1), match.group(2), match.group(3)))
    return rows


def unjustified(findings: Iterable[Finding], rows: Sequence[Justification]) -> list[Finding]:
    return [f for f in findings if not any(row.covers(f) for row in rows)]


def stale(rows: Iterable[Justification], findings: Sequence[Finding]) -> list[Justification]:
    return [row for row in rows if not any(row.covers(f) for f in findings)]


def scan_plans(plan_dirs: Mapping[str, Path], checkov: Path | None = None) -> list[Finding]:
    """Stage every stack's plan in one folder and run Checkov once over all of them."""
    with tempfile.TemporaryDirectory(prefix="security-scan-") as folder:
        root = Path(folder)
        for stack, plan_dir in sorted(plan_dirs.items()):
            stage(stack, plan_dir, root)
        return run_checkov(root, checkov)


def plan_to(stack: str, out: Path) -> int:
    """Plan one stack into ``out`` (its own process: one program run per engine), quietly; its exit code."""
    done = subprocess.run(
        [sys.executable, "-m", "ack_alluxio_training.offline.plan", "--stack", stack, "--out", str(out), "--no-policy"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=CHECKOV_TIMEOUT_SECONDS,
    )
    if done.returncode:
        print(done.stderr, file=sys.stderr, end="")
    return done.returncode


def main(argv: list[str] | None = None) -> int:
    """``python -m ack_alluxio_training.offline.security_scan``: plan, scan, compare with SECURITY.md."""
    parser = argparse.ArgumentParser(prog="security_scan", description=__doc__)
    parser.add_argument("--stack", action="append", help="stack to scan (default: every stack)")
    args = parser.parse_args(argv)
    stacks = args.stack or available_stacks()
    with tempfile.TemporaryDirectory(prefix="security-plan-") as folder:
        plan_dirs = {}
        for stack in stacks:
            plan_dirs[stack] = Path(folder) / stack
            code = plan_to(stack, plan_dirs[stack])
            if code:
                return code
        try:
            findings = scan_plans(plan_dirs)
        except ScanUnavailableError as exc:
            print(f"security_scan: exit 2: {exc}", file=sys.stderr)
            return 2
    rows = justifications(SECURITY_MD.read_text())
    open_findings = unjustified(findings, rows)
    print(f"Checkov: {len(findings)} finding(s), {len(findings) - len(open_findings)} justified in SECURITY.md")
    for finding in open_findings:
        print(f"  NOT JUSTIFIED {finding}")
    for row in stale(rows, findings):
        print(f"  STALE (matches no finding) {row.check_id} {row.resource_pattern}")
    return 1 if open_findings else 0


if __name__ == "__main__":
    sys.exit(main())
