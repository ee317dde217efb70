"""TrainingJob: a training job on the GPU pool that reads its dataset through the Alluxio FUSE mount.

One component for five backends: an mpi-operator MPIJob (Horovod AllReduce, the study's setup and
the default), a parameter-server TFJob, a PyTorchJob, a Kubeflow Trainer TrainJob, or a plain
``batch/v1`` Job for a single node without any operator. The manifests come from the pure
builders in ``components/job_manifests.py``; this module only resolves the inputs and registers
the resources.

In ``probe`` mode the component also creates what the throughput probe needs: a ConfigMap with
the probe script, an empty result ConfigMap, and a ServiceAccount whose Role may only get and
patch that one ConfigMap (see docs/throughput-probe.md).

The Kubernetes provider comes from the caller (``providers=[...]`` on this component, inherited by
the children). The caller's ``depends_on`` (FUSE ready, cache warmed up) is passed on to every
child: a component's dependencies are not inherited by its children on their own, and a job
started before FUSE is mounted reads an empty directory.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, Required, cast

import pulumi
import pulumi_kubernetes as k8s
from typing_extensions import TypedDict

from ack_alluxio_training import job_manifests, network_policies
from ack_alluxio_training.job_scripts import script_sources
from ack_alluxio_training.scheduling import GpuPlacement
from ack_alluxio_training.settings import PlatformSettings, TrainingJobSettings

TYPE_TOKEN = "ack-alluxio-training:index:TrainingJob"


class TrainingJobArgs(TypedDict, total=False):
    """Inputs of a TrainingJob; the keys are the fields of ``job_manifests.JobSpec``."""

    job_name: Required[pulumi.Input[str]]
    """Name of the job object (a DNS label starting with a letter); helper objects are named after it."""
    backend: Required[str]
    """mpijob, tfjob, pytorchjob, trainjob or job. A plain value: it decides which resources exist."""
    mode: str
    """'train' (default) or 'probe' (mpijob/job only): synthetic vs real data, ratio to a ConfigMap."""
    namespace: pulumi.Input[str]
    """Namespace of the job and its helper objects (default 'training'; ``TrainingNamespace`` makes one)."""
    image: Required[pulumi.Input[str]]
    """Training image; the built-in benchmark expects tf_cnn_benchmarks in it."""
    command: pulumi.Input[Sequence[str]] | None
    """What each training process runs instead of tf_cnn_benchmarks (mpijob runs it under mpirun)."""
    workers: Required[pulumi.Input[int]]
    """Worker pods (one per GPU node in the study: 4)."""
    gpus_per_worker: Required[pulumi.Input[int]]
    """GPUs of each worker pod; Horovod runs one rank per GPU."""
    cpu: Required[pulumi.Input[str]]
    """cpu request and limit of a worker's training container (equal: Guaranteed QoS)."""
    memory: Required[pulumi.Input[str]]
    """memory request and limit of a worker's training container; /dev/shm is charged to it."""
    reader_threads: Required[pulumi.Input[int]]
    """Data reader threads per worker pod; FUSE threads are sized from the same number."""
    shm_size: Required[pulumi.Input[str]]
    """Size limit of the memory-backed /dev/shm of a worker pod."""
    model: Required[pulumi.Input[str]]
    """tf_cnn_benchmarks model (resnet50)."""
    batch_size: Required[pulumi.Input[int]]
    """Per-GPU batch size (the study: 256)."""
    num_batches: Required[pulumi.Input[int]]
    """Batches the benchmark runs."""
    backoff_limit: Required[pulumi.Input[int]]
    """Retries before the job is marked failed."""
    ttl_seconds_after_finished: Required[pulumi.Input[int]]
    """Seconds a finished job (and its logs) is kept."""
    dataset_path: Required[pulumi.Input[str]]
    """The dataset's Alluxio path: '/' for the first dataset, '/<name>' for the others."""
    read_only: Required[pulumi.Input[bool]]
    """Mount the FUSE path read-only (read-only datasets)."""
    fuse_mount_point: Required[pulumi.Input[str]]
    """Host path where Alluxio FUSE mounts the Alluxio root on every GPU node."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """nodeSelector of the GPU pool, put on every pod."""
    tolerations: pulumi.Input[Sequence[Mapping[str, Any]]]
    """Tolerations of the GPU pool's taints (Kubernetes Toleration objects), put on every pod."""


class FuseMount(Protocol):
    """What a TrainingJob needs of the FUSE release (``AlluxioFuse`` provides it)."""

    @property
    def mount_point(self) -> pulumi.Input[str]: ...


def training_job_args(
    settings: PlatformSettings,
    job: TrainingJobSettings,
    node_pool: GpuPlacement,
    fuse: FuseMount,
    namespace: pulumi.Input[str] = job_manifests.DEFAULT_NAMESPACE,
) -> TrainingJobArgs:
    """Map one configured job onto TrainingJob args: settings plus the pool's placement and the mount."""
    values: dict[str, Any] = {
        **job_manifests.job_settings_values(settings, job),
        "namespace": namespace,
        "fuse_mount_point": fuse.mount_point,
        "node_selector": node_pool.node_selector,
        "tolerations": node_pool.tolerations,
    }
    return cast(TrainingJobArgs, values)


def _part(key: str) -> Callable[[Mapping[str, Any]], Any]:
    """Picks one top-level field of a manifest (for ``Output.apply``)."""
    return lambda manifest: manifest[key]


def _item(index: int) -> Callable[[Sequence[Any]], Any]:
    return lambda items: items[index]


class TrainingJob(pulumi.ComponentResource):
    """A training job (and, in probe mode, its probe's ConfigMaps and RBAC) on the GPU pool."""

    job_name: pulumi.Output[str]
    """Name of the job object; resolves once the job is registered, so readers depend on it."""
    manifest: pulumi.CustomResource
    """The job resource: an apiextensions.CustomResource for operators, a batch.v1.Job otherwise."""
    probe_result_config_map: pulumi.Output[str] | None
    """Name of the ConfigMap the probe writes its result into (probe mode only)."""

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        backend = args["backend"]
        mode = args.get("mode", "train")
        if backend not in job_manifests.BACKENDS or mode not in job_manifests.MODES:
            # Checked before registering anything: these decide which resources exist at all.
            raise ValueError(f"TrainingJob {name}: backend {backend!r} / mode {mode!r} is not supported")
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions(parent=self, depends_on=opts.depends_on if opts else None)
        spec = pulumi.Output.from_input(cast(dict[str, Any], dict(args))).apply(job_manifests.JobSpec.from_values)
        job_name = pulumi.Output.from_input(args["job_name"])

        prerequisites: list[pulumi.Resource] = []
        if job_manifests.scripts_needed(backend, mode):
            scripts = spec.apply(lambda s: job_manifests.scripts_config_map_manifest(s, script_sources()))
            prerequisites.append(
                k8s.core.v1.ConfigMap(
                    f"{name}-scripts", metadata=scripts.apply(_part("metadata")), data=scripts.apply(_part("data")),
                    opts=child,
                )
            )
        self.probe_result_config_map = None
        if mode == "probe":
            prerequisites += self._probe_access(name, spec, child)
            self.probe_result_config_map = job_name.apply(job_manifests.probe_result_config_map_name)

        # Only this job's pods may talk to each other (ssh, NCCL); the namespace denies the rest.
        network = spec.apply(
            lambda s: network_policies.training_job_policy(s.namespace, s.job_name, reaches_api_server=mode == "probe")
        )
        prerequisites.append(
            k8s.networking.v1.NetworkPolicy(
                f"{name}-network", metadata=network.apply(_part("metadata")), spec=network.apply(_part("spec")),
                opts=child,
            )
        )

        manifest = spec.apply(job_manifests.job_manifest)
        job_opts = pulumi.ResourceOptions.merge(
            child,
            pulumi.ResourceOptions(
                depends_on=prerequisites,
                # The object has a fixed name (operators and kubectl find it by name), so a changed
                # job is a new run: delete the old object first, then create the new one.
                replace_on_changes=["spec"],
                delete_before_replace=True,
            ),
        )
        metadata, body = manifest.apply(_part("metadata")), manifest.apply(_part("spec"))
        if backend == "job":
            self.manifest = k8s.batch.v1.Job(f"{name}-job", metadata=metadata, spec=body, opts=job_opts)
        else:
            api_version, kind = job_manifests.BACKEND_KINDS[backend]
            self.manifest = k8s.apiextensions.CustomResource(
                f"{name}-job", api_version=api_version, kind=kind, metadata=metadata, spec=body, opts=job_opts
            )
        self.job_name = pulumi.Output.all(self.manifest.urn, job_name).apply(lambda values: str(values[1]))
        outputs: dict[str, Any] = {"jobName": self.job_name}
        if self.probe_result_config_map is not None:
            outputs["probeResultConfigMap"] = self.probe_result_config_map
        self.register_outputs(outputs)

    def _probe_access(
        self, name: str, spec: pulumi.Output[job_manifests.JobSpec], child: pulumi.ResourceOptions
    ) -> list[pulumi.Resource]:
        """The probe's result ConfigMap and the least-privilege identity that may write it."""
        result = spec.apply(job_manifests.probe_result_config_map_manifest)
        rbac = spec.apply(job_manifests.probe_rbac_manifests)
        account, role, binding = rbac.apply(_item(0)), rbac.apply(_item(1)), rbac.apply(_item(2))
        return [
            k8s.core.v1.ConfigMap(f"{name}-probe-result", metadata=result.apply(_part("metadata")), opts=child),
            k8s.core.v1.ServiceAccount(
                f"{name}-probe",
                metadata=account.apply(_part("metadata")),
                automount_service_account_token=account.apply(_part("automountServiceAccountToken")),
                opts=child,
            ),
            k8s.rbac.v1.Role(
                f"{name}-probe-role", metadata=role.apply(_part("metadata")), rules=role.apply(_part("rules")),
                opts=child,
            ),
            k8s.rbac.v1.RoleBinding(
                f"{name}-probe-binding",
                metadata=binding.apply(_part("metadata")),
                role_ref=binding.apply(_part("roleRef")),
                subjects=binding.apply(_part("subjects")),
                opts=child,
            ),
        ]
