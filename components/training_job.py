"""TrainingJob: a training job on the GPU pool that reads its dataset through the Alluxio FUSE mount.

One component for five backends: an mpi-operator MPIJob (Horovod AllReduce, the study's setup and
the default), a parameter-server TFJob, a PyTorchJob, a Kubeflow Trainer TrainJob, or a plain
``batch/v1`` Job for a single node without any operator. The manifests come from the pure
builders in ``components/job_manifests.py``; this module only resolves the inputs and registers
the resources.

In ``probe`` mode the component also creates what the throughput probe needs: a ConfigMap with
the probe script, an empty result ConfigMap, and a ServiceAccount whose Role may only get and
patch that one ConfigMap (see docs/throughput-probe.md).

Used alone it needs only a name: every other field has the study's default (from the settings
models), and a ``kubeconfig`` points it at an existing cluster. The Kubernetes provider otherwise
comes from the caller (``providers=[...]`` on this component, inherited by the children). The
caller's ``depends_on`` (FUSE ready, cache warmed up) is passed on to every child: a component's
dependencies are not inherited by its children on their own, and a job started before FUSE is
mounted reads an empty directory.
"""

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Required, TypedDict, cast

import pulumi
import pulumi_kubernetes as k8s

from ack_alluxio_training import job_manifests, network_policies, scheduling
from ack_alluxio_training.cluster_access import children_options
from ack_alluxio_training.job_scripts import script_sources
from ack_alluxio_training.settings import FuseSettings, Resources, TrainingJobSettings

TYPE_TOKEN = "ack-alluxio-training:index:TrainingJob"


class TrainingJobArgs(TypedDict, total=False):
    """Inputs of a TrainingJob: the JobSpec fields (``job_manifests``) plus how to reach the cluster.

    Only the name is required; the rest defaults to the study's job (a Horovod ResNet-50 MPIJob of
    4 workers x 8 GPUs with 16 reader threads each, reading the root dataset through FUSE).
    """

    job_name: Required[pulumi.Input[str]]
    """Name of the job object (a DNS label starting with a letter); helper objects are named after it."""
    backend: str
    """mpijob (default), tfjob, pytorchjob, trainjob or job. A plain value: it decides which resources exist."""
    mode: str
    """'train' (default) or 'probe' (mpijob/job only): synthetic vs real data, ratio to a ConfigMap."""
    namespace: pulumi.Input[str]
    """Namespace of the job and its helper objects (default 'training'; ``TrainingNamespace`` makes one)."""
    image: pulumi.Input[str]
    """Training image (default mpioperator/tensorflow-benchmarks:latest); the benchmark needs tf_cnn_benchmarks."""
    command: pulumi.Input[Sequence[str]]
    """What each training process runs instead of tf_cnn_benchmarks (mpijob runs it under mpirun)."""
    workers: pulumi.Input[int]
    """Worker pods (default 4, one per GPU node in the study)."""
    gpus_per_worker: pulumi.Input[int]
    """GPUs of each worker pod (default 8); Horovod runs one rank per GPU."""
    cpu: pulumi.Input[str]
    """cpu request and limit of a worker's training container (default 40; equal: Guaranteed QoS)."""
    memory: pulumi.Input[str]
    """memory request and limit of a worker's training container (default 160Gi); /dev/shm is charged to it."""
    reader_threads: pulumi.Input[int]
    """Data reader threads per worker pod (default 16); give AlluxioFuse the same number (row 3)."""
    shm_size: pulumi.Input[str]
    """Size limit of the memory-backed /dev/shm of a worker pod (default 32Gi)."""
    model: pulumi.Input[str]
    """tf_cnn_benchmarks model (default resnet50)."""
    batch_size: pulumi.Input[int]
    """Per-GPU batch size (default 256, as the study)."""
    num_batches: pulumi.Input[int]
    """Batches the benchmark runs (default 1000)."""
    backoff_limit: pulumi.Input[int]
    """Retries before the job is marked failed (default 3)."""
    ttl_seconds_after_finished: pulumi.Input[int]
    """Seconds a finished job (and its logs) is kept (default 86400)."""
    dataset_path: pulumi.Input[str]
    """The dataset's Alluxio path: '/' (default) for the first dataset, '/<name>' for the others."""
    read_only: pulumi.Input[bool]
    """Mount the FUSE path read-only (default true, for read-only datasets)."""
    fuse_mount_point: pulumi.Input[str]
    """Host path where Alluxio FUSE mounts the Alluxio root on every GPU node (default /mnt/alluxio/fuse)."""
    node_selector: pulumi.Input[Mapping[str, str]]
    """nodeSelector of the GPU pool, put on every pod (default: the label GpuNodePool sets)."""
    tolerations: pulumi.Input[Sequence[Mapping[str, Any]]]
    """Tolerations of the GPU pool's taints, put on every pod (default: GpuNodePool's GPU taint)."""
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of an existing cluster; without it the caller's (or the default) Kubernetes provider is used."""
    probe_pushgateway_url: pulumi.Input[str]
    """Probe mode: a Pushgateway the probe also pushes its result to, for Prometheus."""
    metrics_port: pulumi.Input[int]
    """Port the training processes serve Prometheus metrics on; the job's NetworkPolicy admits scrapes there."""


#: Args that are not JobSpec fields.
CLUSTER_ACCESS_ARGS = frozenset({"kubeconfig"})


def default_job_values() -> dict[str, Any]:
    """The JobSpec fields a TrainingJob fills when the caller leaves them out: the settings models' defaults."""
    fields = TrainingJobSettings.model_fields
    plain = {
        name: fields[name].default
        for name in (
            "backend", "mode", "image", "workers", "gpus_per_worker", "reader_threads", "shm_size", "model",
            "batch_size", "num_batches", "backoff_limit", "ttl_seconds_after_finished",
        )
    }
    factory = fields["resources"].default_factory
    resources = cast(Resources, factory() if factory else None)  # type: ignore[call-arg]
    return {
        **plain,
        "cpu": resources.cpu,
        "memory": resources.memory,
        "namespace": job_manifests.DEFAULT_NAMESPACE,
        "dataset_path": "/",
        "read_only": True,
        "fuse_mount_point": FuseSettings.model_fields["mount_point"].default,
        "node_selector": scheduling.node_selector(),
        "tolerations": scheduling.tolerations(),
    }


def _part(key: str) -> Callable[[Mapping[str, Any]], Any]:
    """Picks one top-level field of a manifest (for ``Output.apply``)."""
    return lambda manifest: manifest[key]


def _item(index: int) -> Callable[[Sequence[Any]], Any]:
    return lambda items: items[index]


class TrainingJob(pulumi.ComponentResource):
    """A training job (and, in probe mode, its probe's ConfigMaps and RBAC) on the GPU pool."""

    job_name: pulumi.Output[str]
    """Name of the job object; resolves once the job is registered, so readers depend on it."""
    probe_result_config_map: pulumi.Output[str] | None
    """Name of the ConfigMap the probe writes its result into (probe mode only)."""

    def __init__(self, name: str, args: TrainingJobArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        values: dict[str, Any] = {
            **default_job_values(),
            **{k: v for k, v in args.items() if k not in CLUSTER_ACCESS_ARGS},
        }
        backend, mode = values["backend"], values["mode"]
        if backend not in job_manifests.BACKENDS or mode not in job_manifests.MODES:
            # Checked before registering anything: these decide which resources exist at all.
            raise ValueError(f"TrainingJob {name}: backend {backend!r} / mode {mode!r} is not supported")
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = pulumi.ResourceOptions.merge(
            children_options(self, name, args.get("kubeconfig")),
            pulumi.ResourceOptions(depends_on=opts.depends_on if opts else None),
        )
        spec = pulumi.Output.from_input(values).apply(job_manifests.JobSpec.from_values)
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
            lambda s: network_policies.training_job_policy(
                s.namespace, s.job_name, reaches_api_server=mode == "probe",
                pushgateway_url=s.probe_pushgateway_url, metrics_port=s.metrics_port,
            )
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
            # The job resource: an apiextensions.CustomResource for operators, a batch.v1.Job otherwise.
            self.manifest: pulumi.CustomResource = k8s.batch.v1.Job(
                f"{name}-job", metadata=metadata, spec=body, opts=job_opts
            )
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
