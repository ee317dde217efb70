"""Pod templates inside Kubernetes workloads, whatever kind carries them.

Training runs as a batch ``Job`` or as a Kubeflow job (``MPIJob``, ``TFJob``, ``PyTorchJob`` of
``kubeflow.org``; ``TrainJob`` of ``trainer.kubeflow.org``); privileged pods can hide in any
workload. Each kind nests its pod templates differently; this module finds them and reports where
they live in the resource's inputs, so violation messages can name the exact path.

A ``TrainJob`` has no pod template of its own: its trainer container is described by
``spec.trainer`` (``resourcesPerNode``, ``numNodes``) and changed through ``spec.runtimePatches``.
Only what the TrainJob itself states is visible here; settings inherited from the referenced
training runtime are not.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from ack_alluxio_training.conventions import GPU_RESOURCE, READER_THREADS_ANNOTATION
from ack_alluxio_training.policies.guardrails import kubernetes_kinds, parse_type
from ack_alluxio_training.policies.inputs import as_mapping, as_sequence, as_text, dig, per_resource, string_map
from ack_alluxio_training.quantities import QuantityError, parse_quantity

JOB: Final = ("batch", "Job")
MPI_JOB: Final = ("kubeflow.org", "MPIJob")
TF_JOB: Final = ("kubeflow.org", "TFJob")
PYTORCH_JOB: Final = ("kubeflow.org", "PyTorchJob")
TRAIN_JOB: Final = ("trainer.kubeflow.org", "TrainJob")

TRAINING_KINDS: Final = (JOB, MPI_JOB, TF_JOB, PYTORCH_JOB, TRAIN_JOB)
POD_KINDS: Final = (
    *TRAINING_KINDS,
    ("", "Pod"),
    ("apps", "Deployment"),
    ("apps", "StatefulSet"),
    ("apps", "DaemonSet"),
    ("apps", "ReplicaSet"),
    ("batch", "CronJob"),
)
_REPLICA_SPECS: Final = {MPI_JOB: "mpiReplicaSpecs", TF_JOB: "tfReplicaSpecs", PYTORCH_JOB: "pytorchReplicaSpecs"}
#: Replica types that coordinate rather than read training data (no GPUs, no dataset mount).
COORDINATOR_ROLES: Final = frozenset({"Launcher", "PS"})
#: How messages name a TrainJob's trainer pod: its container from spec.trainer, the rest from the
#: runtime patches of the "node" replicated job.
TRAIN_JOB_POD_PATH: Final = "spec.trainer/runtimePatches"
#: The trainer's replicated job in Kubeflow Trainer runtimes.
TRAINER_REPLICATED_JOB: Final = "node"

is_training_kind = kubernetes_kinds(*TRAINING_KINDS)
is_pod_workload = kubernetes_kinds(*POD_KINDS)


@dataclass(frozen=True)
class PodTemplate:
    """One pod template of a workload and where it sits in the resource's inputs."""

    path: str
    role: str
    replicas: int | None
    metadata: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def reads_data(self) -> bool:
        """Whether these pods read the training data (an MPI launcher or a TF PS does not)."""
        return self.role not in COORDINATOR_ROLES

    def at(self, suffix: str) -> str:
        """A path below this template ("spec.containers[0]")."""
        return f"{self.path}.{suffix}" if self.path else suffix

    @property
    def containers(self) -> list[tuple[int, Mapping[str, Any]]]:
        return [(i, as_mapping(c)) for i, c in enumerate(as_sequence(self.spec.get("containers")))]

    @property
    def annotations(self) -> dict[str, str]:
        return string_map(self.metadata.get("annotations"))

    @property
    def volumes(self) -> list[Mapping[str, Any]]:
        return [as_mapping(v) for v in as_sequence(self.spec.get("volumes"))]

    @property
    def tolerations(self) -> list[Mapping[str, Any]]:
        return [as_mapping(t) for t in as_sequence(self.spec.get("tolerations"))]

    @property
    def node_selector(self) -> dict[str, str]:
        return string_map(self.spec.get("nodeSelector"))


def namespace_of(props: Mapping[str, Any]) -> str:
    """A Kubernetes object's namespace ("default" when unset, as the API server would do)."""
    return as_text(dig(props, "metadata", "namespace")) or "default"


def _template(path: str, role: str, replicas: int | None, template: Any) -> PodTemplate:
    body = as_mapping(template)
    return PodTemplate(path, role, replicas, as_mapping(body.get("metadata")), as_mapping(body.get("spec")))


def _whole(value: Any) -> int | None:
    text = as_text(value)
    if text is None:
        return None
    try:
        number = Decimal(text)
    except ArithmeticError:
        return None
    return int(number) if number.is_finite() else None


def _train_job_template(spec: Mapping[str, Any]) -> PodTemplate:
    """The trainer pod a TrainJob asks for: trainer resources plus its runtime patches."""
    trainer = as_mapping(spec.get("trainer"))
    annotations: dict[str, Any] = {}
    volumes: list[Any] = []
    tolerations: list[Any] = []
    node_selector: dict[str, Any] = {}
    mounts: list[Any] = []
    for patch in as_sequence(spec.get("runtimePatches")):
        for job in as_sequence(dig(patch, "trainingRuntimeSpec", "template", "spec", "replicatedJobs")):
            name = as_text(as_mapping(job).get("name"))
            if name not in (None, TRAINER_REPLICATED_JOB):
                continue
            pod = as_mapping(dig(job, "template", "spec", "template"))
            annotations.update(as_mapping(dig(pod, "metadata", "annotations")))
            pod_spec = as_mapping(pod.get("spec"))
            volumes += list(as_sequence(pod_spec.get("volumes")))
            tolerations += list(as_sequence(pod_spec.get("tolerations")))
            node_selector.update(as_mapping(pod_spec.get("nodeSelector")))
            for container in as_sequence(pod_spec.get("containers")):
                if as_text(as_mapping(container).get("name")) in (None, TRAINER_REPLICATED_JOB):
                    mounts += list(as_sequence(as_mapping(container).get("volumeMounts")))
    trainer_container: dict[str, Any] = {"name": TRAINER_REPLICATED_JOB, "volumeMounts": mounts}
    if "resourcesPerNode" in trainer:
        trainer_container["resources"] = trainer.get("resourcesPerNode")
    return PodTemplate(
        path=TRAIN_JOB_POD_PATH,
        role="Trainer",
        replicas=_whole(trainer.get("numNodes")) or 1,
        metadata={"annotations": annotations},
        spec={"containers": [trainer_container], "volumes": volumes, "tolerations": tolerations,
              "nodeSelector": node_selector},
    )


def pod_templates(resource_type: str, props: Mapping[str, Any]) -> list[PodTemplate]:
    """Every pod template of a workload resource (empty for other resources)."""
    return list(_pod_templates(resource_type, props, ""))


@per_resource
def _pod_templates(resource_type: str, props: Mapping[str, Any], _: str) -> tuple[PodTemplate, ...]:
    return tuple(_find_pod_templates(resource_type, props))


def _find_pod_templates(resource_type: str, props: Mapping[str, Any]) -> list[PodTemplate]:
    parsed = parse_type(resource_type)
    if parsed.package != "kubernetes":
        return []
    kind = (parsed.group, parsed.kind)
    spec = as_mapping(props.get("spec"))
    if kind == ("", "Pod"):
        return [PodTemplate("", "Pod", 1, as_mapping(props.get("metadata")), spec)]
    if kind == ("batch", "CronJob"):
        template = dig(spec, "jobTemplate", "spec", "template")
        return [_template("spec.jobTemplate.spec.template", "CronJob", None, template)]
    if kind == JOB:
        parallelism = _whole(spec.get("parallelism"))
        return [_template("spec.template", "Job", 1 if parallelism is None else parallelism, spec.get("template"))]
    if kind[0] == "apps" and kind in POD_KINDS:
        return [_template("spec.template", kind[1], _whole(spec.get("replicas")), spec.get("template"))]
    if kind in _REPLICA_SPECS:
        field = _REPLICA_SPECS[kind]
        templates = []
        for role, replica in as_mapping(spec.get(field)).items():
            replica_spec = as_mapping(replica)
            replicas = _whole(replica_spec.get("replicas"))
            templates.append(_template(f"spec.{field}.{role}.template", str(role), 1 if replicas is None else replicas,
                                       replica_spec.get("template")))
        return templates
    if kind == TRAIN_JOB:
        return [_train_job_template(spec)]
    return []


def quantity_of(resources: Any, kind: str, name: str) -> Decimal | None:
    """A container's ``resources.<kind>.<name>`` as a number (None when absent or malformed)."""
    text = as_text(dig(resources, kind, name))
    if text is None:
        return None
    try:
        return parse_quantity(text)
    except QuantityError:
        return None


def gpus_of(container: Mapping[str, Any]) -> Decimal | None:
    """GPUs a container asks for (its limit, else its request)."""
    resources = container.get("resources")
    limit = quantity_of(resources, "limits", GPU_RESOURCE)
    return limit if limit is not None else quantity_of(resources, "requests", GPU_RESOURCE)


def training_containers(template: PodTemplate) -> list[tuple[int, Mapping[str, Any]]]:
    """The containers that train: those asking for GPUs, else the pod's first (default) container."""
    containers = template.containers
    with_gpus = [(i, c) for i, c in containers if (gpus_of(c) or 0) > 0]
    return with_gpus or containers[:1]


def is_training_workload(resource_type: str, templates: Sequence[PodTemplate]) -> bool:
    """Kubeflow jobs always train; a batch Job trains when it declares reader threads or asks for GPUs."""
    parsed = parse_type(resource_type)
    if (parsed.group, parsed.kind) != JOB:
        return is_training_kind(resource_type)
    for template in templates:
        if READER_THREADS_ANNOTATION in template.annotations:
            return True
        if any((gpus_of(c) or 0) > 0 for _, c in template.containers):
            return True
    return False
