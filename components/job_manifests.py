"""Training-job manifests: one typed spec, one builder per backend, no Pulumi.

``JobSpec`` holds everything a training job needs once settings and the platform's placement
(the GPU pool's nodeSelector and tolerations, the FUSE mount point) are known. Each builder turns
it into the manifest dict of one backend: an MPIJob (Horovod AllReduce, the study's setup), a
parameter-server TFJob, a PyTorchJob, a Kubeflow Trainer TrainJob or a plain ``batch/v1`` Job.
The component creates exactly these dicts and the tests and the policy pack can read them
without an engine.

Rules every training pod follows, and why:

- GPUs in ``limits`` only on pods that compute; the MPI launcher and TF parameter servers get cpu
  only (and ``NVIDIA_VISIBLE_DEVICES=void`` so the CUDA image's default of "all" does not hand
  them every GPU of the node anyway).
- cpu and memory requests equal limits in every container, init containers included: Guaranteed
  QoS, which the static cpu manager needs for exclusive cores, and never the cgroup default of
  2 cpu shares that starves reader threads (tuning row 12).
- ``/dev/shm`` is a memory-backed emptyDir with a size limit (NCCL and the input pipeline use it;
  the container runtime's 64 MiB default stalls them). Its usage counts against the pod's memory.
- The FUSE mount point is a hostPath mounted at the same path with ``HostToContainer``
  propagation, so a mount that appears (or reappears) after the pod started is seen; it is
  read-only for read-only datasets.
- The GPU pool's nodeSelector and tolerations go on every pod, launcher included: the pool may
  be the only place a pod fits.
- Reading pods declare their reader threads in the ``ack-alluxio-training/reader-threads``
  annotation; the FUSE thread count is derived from the same setting (tuning row 3) and the
  policy pack compares the two per node.

Data layout: the Alluxio root is mounted on the first dataset's ``oss://bucket/prefix/``, the
others on ``/<name>``, so a job reads ``<mount point>`` for the first dataset and
``<mount point>/<name>`` for the others. The key prefix is part of the mounted UFS root and never
appears in the path.

Least privilege (SECURITY.md lists what remains and why):

- Jobs run in their own namespace (``training``), never ``default``.
- Every pod: seccomp ``RuntimeDefault``; no service-account token except the probe's.
- Every container: no privilege escalation and every capability dropped. The one exception is
  the MPIJob worker, whose sshd (the launcher reaches the ranks over ssh) keeps the few
  capabilities it uses to accept a login: :data:`SSHD_CAPABILITIES`.
- The init container that waits for FUSE runs as ``nobody`` on a read-only root file system.
- Horovod and OpenMPI images run as root (sshd, ``/root/.ssh`` for the launcher's keys, ``mpirun
  --allow-run-as-root``), so the training containers themselves are not forced to non-root.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

from ack_alluxio_training.conventions import GPU_RESOURCE, READER_THREADS_ANNOTATION
from ack_alluxio_training.job_scripts import PROBE_SCRIPT, TF_CLUSTER_SCRIPT
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.settings import Backend, PlatformSettings, TrainingJobSettings

Mode = Literal["train", "probe"]
BACKENDS: Final[tuple[str, ...]] = get_args(Backend)
MODES: Final[tuple[str, ...]] = get_args(Mode)

#: apiVersion and kind of each backend's object.
BACKEND_KINDS: Final[Mapping[str, tuple[str, str]]] = {
    "mpijob": ("kubeflow.org/v2beta1", "MPIJob"),
    "tfjob": ("kubeflow.org/v1", "TFJob"),
    "pytorchjob": ("kubeflow.org/v1", "PyTorchJob"),
    "trainjob": ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
    "job": ("batch/v1", "Job"),
}
#: Backends that run one Horovod rank per GPU under mpirun (and so can run the probe).
HOROVOD_BACKENDS: Final = frozenset({"mpijob", "job"})
#: Backends without a built-in benchmark: the study's benchmark is TensorFlow, so they need a command.
COMMAND_REQUIRED_BACKENDS: Final = frozenset({"pytorchjob", "trainjob"})

PART_OF: Final = "ack-alluxio-training"
DATA_DIR_ANNOTATION: Final = "ack-alluxio-training/data-dir"
#: Training runs for hours: ``pulumi up`` must not wait for the Job to complete (its Job awaiter would).
SKIP_AWAIT_ANNOTATION: Final = "pulumi.com/skipAwait"
#: Training jobs get a namespace of their own (never ``default``): its NetworkPolicies admit only
#: the traffic between the pods of one job (components/network_policies.py).
DEFAULT_NAMESPACE: Final = "training"
#: Capabilities sshd needs to accept the launcher's login as root and start the rank (privilege
#: separation chroots and switches ids; port 22 is privileged). Everything else is dropped.
SSHD_CAPABILITIES: Final = ("AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "NET_BIND_SERVICE", "SETGID",
                            "SETUID", "SYS_CHROOT")
#: The init container's uid (``nobody``): it only lists the mount and checks a file exists.
INIT_USER: Final = 65534

#: tf_cnn_benchmarks inside the image, where the mpi-operator's tensorflow-benchmarks image keeps
#: it (a clone of tensorflow/benchmarks). Images without it need ``jobs[].command``.
TF_CNN_BENCHMARKS: Final = "/tensorflow/benchmarks/scripts/tf_cnn_benchmarks/tf_cnn_benchmarks.py"
SCRIPTS_DIR: Final = "/opt/ack-alluxio-training"
SHM_VOLUME: Final = "dshm"
FUSE_VOLUME: Final = "alluxio-fuse"
SCRIPTS_VOLUME: Final = "job-scripts"

#: cpu-only helpers: the MPI launcher only runs mpirun (and the probe), a parameter server only
#: aggregates gradients. Whole cpus keep them eligible for exclusive cores too.
LAUNCHER_CPU: Final = "1"
LAUNCHER_MEMORY: Final = "2Gi"
PARAMETER_SERVER_CPU: Final = "4"
PARAMETER_SERVER_MEMORY: Final = "8Gi"
AUXILIARY_SHM: Final = "1Gi"
INIT_CPU: Final = "1"
INIT_MEMORY: Final = "256Mi"
#: How long a pod waits for the dataset to show up under the FUSE mount before it fails.
FUSE_WAIT_SECONDS: Final = 900

TF_PORT: Final = 2222
SSH_PORT: Final = 22
PYTORCH_PORT: Final = 23456
TRAINJOB_RUNTIME: Final = "torch-distributed"
#: Kubeflow Trainer names the trainer's replicated job and its container "node".
TRAINJOB_NODE: Final = "node"
RUNTIME_PATCH_MANAGER: Final = "ack-alluxio-training.io/training-job"


def dataset_alluxio_path(dataset_names: Sequence[str], dataset: str) -> str:
    """Where a dataset lives in the Alluxio namespace: '/' for the first, '/<name>' for the others."""
    if dataset not in dataset_names:
        raise ValueError(f"{dataset!r} is not one of the datasets {list(dataset_names)}")
    return "/" if dataset == dataset_names[0] else f"/{dataset}"


def data_dir(mount_point: str, alluxio_path: str) -> str:
    """The dataset's directory inside a pod: the FUSE mount point plus the Alluxio path."""
    base = mount_point.rstrip("/") or "/"
    relative = alluxio_path.strip("/")
    return posixpath.join(base, relative) if relative else base


def reader_threads_per_process(reader_threads: int, processes: int) -> int:
    """A pod's reader threads shared among its processes (one Horovod rank per GPU).

    Rounded down, so the pod never runs more readers than it declares and FUSE sized from the
    declaration is never short (row 3); settings make sure every process gets at least one.
    """
    return max(1, reader_threads // max(1, processes))


def scripts_config_map_name(job_name: str) -> str:
    """ConfigMap holding the probe and TF_CONFIG helper scripts."""
    return f"{job_name}-scripts"


def probe_result_config_map_name(job_name: str) -> str:
    """ConfigMap the probe writes its result into."""
    return f"{job_name}-probe-result"


def probe_service_account_name(job_name: str) -> str:
    """Service account (and Role, RoleBinding) of the pod that runs the probe."""
    return f"{job_name}-probe"


def scripts_needed(backend: str, mode: str) -> bool:
    """Whether the job's pods mount the scripts ConfigMap: for the probe, and TFJob's TF_CONFIG helper."""
    return mode == "probe" or backend == "tfjob"


@dataclass(frozen=True)
class JobSpec:
    """A training job, fully resolved: settings plus the platform's placement and mount point."""

    job_name: str
    backend: str
    image: str
    workers: int
    gpus_per_worker: int
    cpu: str
    memory: str
    reader_threads: int
    shm_size: str
    model: str
    batch_size: int
    num_batches: int
    backoff_limit: int
    ttl_seconds_after_finished: int
    dataset_path: str
    read_only: bool
    fuse_mount_point: str
    namespace: str = DEFAULT_NAMESPACE
    mode: str = "train"
    command: tuple[str, ...] | None = None
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Mapping[str, Any], ...] = ()
    #: Where the probe also pushes its result for Prometheus (``monitoring.probePushgatewayUrl``).
    probe_pushgateway_url: str | None = None
    #: Port the training processes serve Prometheus metrics on (``monitoring.trainingMetricsPort``).
    metrics_port: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.backend not in BACKENDS:
            problems.append(f"backend {self.backend!r} is not one of {BACKENDS}")
        if self.mode not in MODES:
            problems.append(f"mode {self.mode!r} is not one of {MODES}")
        if self.mode == "probe" and self.backend not in HOROVOD_BACKENDS:
            problems.append(f"mode 'probe' needs backend 'mpijob' or 'job', not {self.backend!r}")
        if self.backend in COMMAND_REQUIRED_BACKENDS and not self.command:
            problems.append(f"backend {self.backend!r} has no built-in benchmark: give a command")
        if self.backend != "job" and not self.job_name[:1].isalpha():
            problems.append("the name must start with a letter: the operator names Services after it")
        if self.backend == "job" and self.workers != 1:
            problems.append("backend 'job' runs one pod: workers must be 1")
        for name in ("workers", "gpus_per_worker", "reader_threads", "batch_size", "num_batches"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1")
        if not self.fuse_mount_point.startswith("/") or not self.dataset_path.startswith("/"):
            problems.append("fuse_mount_point and dataset_path must be absolute paths")
        if memory_bytes(self.shm_size) > memory_bytes(self.memory):
            problems.append(f"shm_size {self.shm_size} exceeds the memory limit {self.memory} it is charged to")
        if problems:
            raise ValueError(f"training job {self.job_name!r}: " + "; ".join(problems))

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> JobSpec:
        """Build from plain values (the component's resolved args): sequences become tuples."""
        known = set(cls.__dataclass_fields__)
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown training job fields: {sorted(unknown)}")
        data = {k: v for k, v in values.items() if v is not None}
        if "command" in data:
            data["command"] = tuple(str(part) for part in data["command"])
        if "tolerations" in data:
            data["tolerations"] = tuple(dict(t) for t in data["tolerations"])
        if "node_selector" in data:
            data["node_selector"] = dict(data["node_selector"])
        for name in ("workers", "gpus_per_worker", "reader_threads", "batch_size", "num_batches",
                     "backoff_limit", "ttl_seconds_after_finished", "metrics_port"):
            if name in data:
                data[name] = int(data[name])
        return cls(**data)

    @property
    def data_dir(self) -> str:
        """The dataset's directory as the training command sees it."""
        return data_dir(self.fuse_mount_point, self.dataset_path)

    @property
    def ranks(self) -> int:
        """Training processes in the whole job: one per GPU."""
        return self.workers * self.gpus_per_worker

    @property
    def uses_builtin_benchmark(self) -> bool:
        """Whether the pods run tf_cnn_benchmarks (so the image must carry it)."""
        return not self.command


def job_settings_values(settings: PlatformSettings, job: TrainingJobSettings) -> dict[str, Any]:
    """The JobSpec fields that come from settings alone (not placement, mount point or namespace)."""
    dataset = next(d for d in settings.datasets if d.name == job.dataset)
    return {
        "job_name": job.name,
        "backend": job.backend,
        "mode": job.mode,
        "image": job.image,
        "command": list(job.command) if job.command else None,
        "workers": job.workers,
        "gpus_per_worker": job.gpus_per_worker,
        "cpu": job.resources.cpu,
        "memory": job.resources.memory,
        "reader_threads": job.reader_threads,
        "shm_size": job.shm_size,
        "model": job.model,
        "batch_size": job.batch_size,
        "num_batches": job.num_batches,
        "backoff_limit": job.backoff_limit,
        "ttl_seconds_after_finished": job.ttl_seconds_after_finished,
        "dataset_path": dataset_alluxio_path([d.name for d in settings.datasets], job.dataset),
        "read_only": dataset.read_only,
        "probe_pushgateway_url": settings.monitoring.probe_pushgateway_url if job.mode == "probe" else None,
        "metrics_port": settings.monitoring.training_metrics_port,
    }


def job_spec(
    settings: PlatformSettings,
    job: TrainingJobSettings,
    *,
    fuse_mount_point: str,
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, Any]],
    namespace: str = DEFAULT_NAMESPACE,
) -> JobSpec:
    """The spec of one configured job on a platform whose placement and mount point are known."""
    return JobSpec.from_values(
        {
            **job_settings_values(settings, job),
            "fuse_mount_point": fuse_mount_point,
            "node_selector": node_selector,
            "tolerations": tolerations,
            "namespace": namespace,
        }
    )


# --- commands ----------------------------------------------------------------------------------


def benchmark_flags(
    spec: JobSpec,
    *,
    variable_update: str,
    num_gpus: int,
    private_threads: int,
    with_data: bool,
) -> list[str]:
    """tf_cnn_benchmarks flags of the study's run: ResNet-50, fp16, ImageNet-shaped input.

    Without ``--data_dir`` the benchmark feeds synthetic ImageNet-shaped images, which is the
    probe's baseline; ``--datasets_num_private_threads`` is the reader thread pool FUSE is sized for.
    """
    flags = [
        f"--model={spec.model}",
        f"--batch_size={spec.batch_size}",
        f"--num_batches={spec.num_batches}",
        f"--num_gpus={num_gpus}",
        f"--variable_update={variable_update}",
        "--use_fp16",
        "--data_name=imagenet",
        f"--datasets_num_private_threads={private_threads}",
        "--display_every=100",
    ]
    if with_data:
        flags.append(f"--data_dir={spec.data_dir}")
    return flags


def rank_command(spec: JobSpec) -> list[str]:
    """What every Horovod rank runs: the configured command, or tf_cnn_benchmarks on one GPU."""
    if spec.command:
        return list(spec.command)
    threads = reader_threads_per_process(spec.reader_threads, spec.gpus_per_worker)
    flags = benchmark_flags(
        spec, variable_update="horovod", num_gpus=1, private_threads=threads, with_data=spec.mode == "train"
    )
    return ["python3", TF_CNN_BENCHMARKS, *flags]


def mpirun_command(spec: JobSpec, *, local: bool) -> list[str]:
    """mpirun with one rank per GPU of the job.

    In an MPIJob the operator's hostfile gives each worker ``slotsPerWorker`` slots; a plain Job
    runs its ranks on localhost. Ranks started over ssh do not inherit the container's environment,
    so PATH, LD_LIBRARY_PATH and the data variables are exported with ``-x``.
    """
    command = ["mpirun", "--allow-run-as-root", "-np", str(spec.ranks)]
    if local:
        command += ["-H", f"localhost:{spec.ranks}"]
    command += ["-bind-to", "none", "-map-by", "slot"]
    for variable in ("PATH", "LD_LIBRARY_PATH", "DATA_DIR", "READER_THREADS", "NCCL_DEBUG=WARN"):
        command += ["-x", variable]
    command += ["-mca", "pml", "ob1", "-mca", "btl", "^openib"]
    return command + rank_command(spec)


def probe_command(spec: JobSpec, benchmark: Sequence[str]) -> list[str]:
    """The probe wrapping a benchmark command: synthetic run, real run, ratio into the ConfigMap."""
    return [
        "python3",
        posixpath.join(SCRIPTS_DIR, PROBE_SCRIPT),
        "--data-dir",
        spec.data_dir,
        "--result-configmap",
        probe_result_config_map_name(spec.job_name),
        *(["--pushgateway", spec.probe_pushgateway_url, "--training-job", spec.job_name]
          if spec.probe_pushgateway_url else []),
        "--",
        *benchmark,
    ]


def horovod_main_command(spec: JobSpec) -> list[str]:
    """The MPI launcher's (or the plain Job's) command: mpirun, under the probe in probe mode."""
    if spec.backend == "job" and spec.command:
        # A plain Job runs a configured command as it is: it may not be an MPI program at all.
        benchmark = list(spec.command)
    else:
        benchmark = mpirun_command(spec, local=spec.backend == "job")
    return probe_command(spec, benchmark) if spec.mode == "probe" else benchmark


def tf_command(spec: JobSpec, role: Literal["ps", "worker"]) -> list[str]:
    """A TFJob replica's command: tf_cnn_benchmarks in parameter-server mode, cluster from TF_CONFIG."""
    if spec.command:
        return list(spec.command)
    common = [f"--model={spec.model}", f"--batch_size={spec.batch_size}", "--variable_update=parameter_server",
              "--local_parameter_device=cpu"]
    if role == "ps":
        flags = [*common, "--device=cpu", "--data_format=NHWC"]
    else:
        # One process per worker pod drives all its GPUs, so it gets all the pod's reader threads.
        flags = [
            *benchmark_flags(
                spec, variable_update="parameter_server", num_gpus=spec.gpus_per_worker,
                private_threads=spec.reader_threads, with_data=True,
            ),
            "--local_parameter_device=cpu",
        ]
    return ["python3", posixpath.join(SCRIPTS_DIR, TF_CLUSTER_SCRIPT), "python3", TF_CNN_BENCHMARKS, *flags]


# --- pod templates -----------------------------------------------------------------------------


def _labels(spec: JobSpec, role: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": spec.job_name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": "pulumi",
    }


def _resources(cpu: str, memory: str, gpus: int = 0) -> dict[str, dict[str, str]]:
    """requests == limits for cpu and memory (Guaranteed QoS); GPUs as a limit only."""
    limits = {"cpu": cpu, "memory": memory}
    if gpus:
        limits[GPU_RESOURCE] = str(gpus)
    return {"requests": {"cpu": cpu, "memory": memory}, "limits": limits}


def _env(spec: JobSpec, *, gpus: int) -> list[dict[str, str]]:
    env = [
        {"name": "DATA_DIR", "value": spec.data_dir},
        {"name": "READER_THREADS", "value": str(spec.reader_threads)},
    ]
    if gpus:
        env.append({"name": "NCCL_DEBUG", "value": "WARN"})
    else:
        # CUDA images default NVIDIA_VISIBLE_DEVICES to "all": without this a cpu-only pod on a
        # GPU node would see (and could grab) GPUs the device plugin gave to other pods.
        env.append({"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"})
    return env


def _volume_mounts(spec: JobSpec, *, scripts: bool) -> list[dict[str, Any]]:
    mounts: list[dict[str, Any]] = [
        {"name": SHM_VOLUME, "mountPath": "/dev/shm"},
        {
            "name": FUSE_VOLUME,
            "mountPath": spec.fuse_mount_point,
            "readOnly": spec.read_only,
            "mountPropagation": "HostToContainer",
        },
    ]
    if scripts:
        mounts.append({"name": SCRIPTS_VOLUME, "mountPath": SCRIPTS_DIR, "readOnly": True})
    return mounts


def _volumes(spec: JobSpec, *, shm_size: str, scripts: bool) -> list[dict[str, Any]]:
    volumes: list[dict[str, Any]] = [
        {"name": SHM_VOLUME, "emptyDir": {"medium": "Memory", "sizeLimit": shm_size}},
        # "Directory", not "DirectoryOrCreate": until FUSE has created its mount point the pod
        # waits in ContainerCreating instead of starting on an empty directory.
        {"name": FUSE_VOLUME, "hostPath": {"path": spec.fuse_mount_point, "type": "Directory"}},
    ]
    if scripts:
        config_map = {"name": scripts_config_map_name(spec.job_name), "defaultMode": 0o555}
        volumes.append({"name": SCRIPTS_VOLUME, "configMap": config_map})
    return volumes


def _wait_for_fuse(spec: JobSpec) -> dict[str, Any]:
    """Init container that holds the pod until the dataset is visible through FUSE.

    Without it a pod scheduled before the node's FUSE pod is up starts on an empty directory and
    the benchmark fails (or, worse, reads nothing). It uses the training image (already pulled,
    and it checks that image carries tf_cnn_benchmarks when the built-in benchmark is used).
    """
    checks = []
    if spec.uses_builtin_benchmark:
        checks.append(
            f"[ -f {TF_CNN_BENCHMARKS} ] || {{ echo 'image {spec.image} has no {TF_CNN_BENCHMARKS}: "
            "use an image with tensorflow/benchmarks or set jobs[].command' >&2; exit 1; }"
        )
    checks.append(
        f'deadline=$(( $(date +%s) + {FUSE_WAIT_SECONDS} )); '
        'until [ -n "$(ls -A "$DATA_DIR" 2>/dev/null | head -n 1)" ]; do '
        'if [ "$(date +%s)" -ge "$deadline" ]; then '
        f'echo "no data in $DATA_DIR after {FUSE_WAIT_SECONDS}s: is Alluxio FUSE running on this node?" >&2; exit 1; '
        "fi; sleep 5; done; "
        'echo "dataset visible in $DATA_DIR"'
    )
    return {
        "name": "wait-for-fuse",
        "image": spec.image,
        "command": ["sh", "-c", "\n".join(checks)],
        "env": _env(spec, gpus=0),
        "resources": _resources(INIT_CPU, INIT_MEMORY),
        "volumeMounts": [m for m in _volume_mounts(spec, scripts=False) if m["name"] == FUSE_VOLUME],
        "securityContext": {
            **container_security_context(),
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "runAsUser": INIT_USER,
            "runAsGroup": INIT_USER,
        },
    }


def container_security_context(added_capabilities: Sequence[str] = ()) -> dict[str, Any]:
    """No privilege escalation, every capability dropped but the ones named."""
    capabilities: dict[str, list[str]] = {"drop": ["ALL"]}
    if added_capabilities:
        capabilities["add"] = sorted(added_capabilities)
    return {"allowPrivilegeEscalation": False, "capabilities": capabilities}


def _container(
    spec: JobSpec,
    *,
    name: str,
    command: Sequence[str],
    cpu: str,
    memory: str,
    gpus: int,
    scripts: bool,
    ports: Sequence[dict[str, Any]] = (),
    capabilities: Sequence[str] = (),
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": name,
        "image": spec.image,
        "command": list(command),
        "env": _env(spec, gpus=gpus),
        "resources": _resources(cpu, memory, gpus),
        "volumeMounts": _volume_mounts(spec, scripts=scripts),
        "securityContext": container_security_context(capabilities),
    }
    if ports:
        container["ports"] = [dict(p) for p in ports]
    return container


def _pod_template(
    spec: JobSpec,
    *,
    role: str,
    containers: Sequence[dict[str, Any]],
    shm_size: str,
    reads_data: bool,
    restart_policy: str | None = None,
    service_account: str | None = None,
) -> dict[str, Any]:
    scripts = scripts_needed(spec.backend, spec.mode)
    annotations = {DATA_DIR_ANNOTATION: spec.data_dir}
    if reads_data:
        annotations[READER_THREADS_ANNOTATION] = str(spec.reader_threads)
    pod: dict[str, Any] = {
        "nodeSelector": dict(spec.node_selector),
        "tolerations": [dict(t) for t in spec.tolerations],
        "containers": list(containers),
        "volumes": _volumes(spec, shm_size=shm_size, scripts=scripts),
        # Only the probe talks to the API server; no other training pod needs a token.
        "automountServiceAccountToken": service_account is not None,
        "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
    }
    if reads_data:
        pod["initContainers"] = [_wait_for_fuse(spec)]
    if service_account:
        pod["serviceAccountName"] = service_account
    if restart_policy:
        pod["restartPolicy"] = restart_policy
    return {"metadata": {"labels": _labels(spec, role), "annotations": annotations}, "spec": pod}


def _metadata(spec: JobSpec) -> dict[str, Any]:
    return {
        "name": spec.job_name,
        "namespace": spec.namespace,
        "labels": _labels(spec, "training"),
        "annotations": {SKIP_AWAIT_ANNOTATION: "true"},
    }


def _run_policy(spec: JobSpec) -> dict[str, Any]:
    # "Running": kill what still runs when the job ends (workers, parameter servers) but keep the
    # finished launcher/master pods so their logs (and the probe's result) stay readable until the TTL.
    return {
        "cleanPodPolicy": "Running",
        "backoffLimit": spec.backoff_limit,
        "ttlSecondsAfterFinished": spec.ttl_seconds_after_finished,
    }


def _worker_template(spec: JobSpec, *, role: str, container: str, command: Sequence[str],
                     ports: Sequence[dict[str, Any]] = (), restart_policy: str | None = None,
                     capabilities: Sequence[str] = ()) -> dict[str, Any]:
    scripts = scripts_needed(spec.backend, spec.mode)
    main = _container(
        spec, name=container, command=command, cpu=spec.cpu, memory=spec.memory,
        gpus=spec.gpus_per_worker, scripts=scripts, ports=ports, capabilities=capabilities,
    )
    return _pod_template(spec, role=role, containers=[main], shm_size=spec.shm_size, reads_data=True,
                         restart_policy=restart_policy)


# --- backends ----------------------------------------------------------------------------------


def mpijob_manifest(spec: JobSpec) -> dict[str, Any]:
    """An mpi-operator ``v2beta1`` MPIJob: Horovod AllReduce, one rank per GPU, as the study ran it.

    Workers only run sshd (the operator mounts the launcher's keys at ``sshAuthMountPath``); the
    launcher runs mpirun against the operator's hostfile and is created only once every worker
    is ready, so it does not burn its retries while the (large) image is still being pulled.
    """
    scripts = scripts_needed(spec.backend, spec.mode)
    probe = spec.mode == "probe"
    worker = _worker_template(
        spec, role="worker", container="worker", command=["/usr/sbin/sshd", "-De"], capabilities=SSHD_CAPABILITIES
    )
    # Ready once sshd accepts connections: launcherCreationPolicy WaitForWorkersReady then starts the
    # launcher only when every rank can be reached.
    worker["spec"]["containers"][0]["readinessProbe"] = {"tcpSocket": {"port": SSH_PORT}, "periodSeconds": 5}
    launcher = _container(
        spec, name="launcher", command=horovod_main_command(spec), cpu=LAUNCHER_CPU, memory=LAUNCHER_MEMORY,
        gpus=0, scripts=scripts,
    )
    return {
        "apiVersion": BACKEND_KINDS["mpijob"][0],
        "kind": BACKEND_KINDS["mpijob"][1],
        "metadata": _metadata(spec),
        "spec": {
            "slotsPerWorker": spec.gpus_per_worker,
            "mpiImplementation": "OpenMPI",
            "sshAuthMountPath": "/root/.ssh",
            "launcherCreationPolicy": "WaitForWorkersReady",
            "runPolicy": _run_policy(spec),
            "mpiReplicaSpecs": {
                "Launcher": {
                    "replicas": 1,
                    "restartPolicy": "OnFailure",
                    "template": _pod_template(
                        spec, role="launcher", containers=[launcher], shm_size=AUXILIARY_SHM, reads_data=False,
                        service_account=probe_service_account_name(spec.job_name) if probe else None,
                    ),
                },
                "Worker": {
                    "replicas": spec.workers,
                    # In place: a restarted sshd keeps the pod (and the hostname in the hostfile).
                    "restartPolicy": "OnFailure",
                    "template": worker,
                },
            },
        },
    }


def tfjob_manifest(spec: JobSpec) -> dict[str, Any]:
    """A training-operator TFJob in parameter-server mode: one cpu-only PS per GPU worker.

    ``ExitCode`` restarts a replica only for retryable exits (signals, >128) and fails the job on
    a real error at once instead of looping through the backoff limit.
    """
    port = [{"name": "tfjob-port", "containerPort": TF_PORT}]
    scripts = scripts_needed(spec.backend, spec.mode)
    ps = _container(
        spec, name="tensorflow", command=tf_command(spec, "ps"), cpu=PARAMETER_SERVER_CPU,
        memory=PARAMETER_SERVER_MEMORY, gpus=0, scripts=scripts, ports=port,
    )
    return {
        "apiVersion": BACKEND_KINDS["tfjob"][0],
        "kind": BACKEND_KINDS["tfjob"][1],
        "metadata": _metadata(spec),
        "spec": {
            "runPolicy": _run_policy(spec),
            "tfReplicaSpecs": {
                "PS": {
                    "replicas": spec.workers,
                    "restartPolicy": "ExitCode",
                    "template": _pod_template(
                        spec, role="ps", containers=[ps], shm_size=AUXILIARY_SHM, reads_data=False
                    ),
                },
                "Worker": {
                    "replicas": spec.workers,
                    "restartPolicy": "ExitCode",
                    "template": _worker_template(
                        spec, role="worker", container="tensorflow", command=tf_command(spec, "worker"), ports=port
                    ),
                },
            },
        },
    }


def pytorchjob_manifest(spec: JobSpec) -> dict[str, Any]:
    """A training-operator PyTorchJob: a Master and workers-1 Workers, one process per GPU.

    The operator sets MASTER_ADDR/PORT, WORLD_SIZE, RANK and, with ``nprocPerNode``, torchrun's
    PET_* variables; the command reads the data from ``$(DATA_DIR)``.
    """
    port = [{"name": "pytorchjob-port", "containerPort": PYTORCH_PORT}]
    command = list(spec.command or ())
    replicas: dict[str, Any] = {
        "Master": {
            "replicas": 1,
            "restartPolicy": "ExitCode",
            "template": _worker_template(spec, role="master", container="pytorch", command=command, ports=port),
        }
    }
    if spec.workers > 1:
        replicas["Worker"] = {
            "replicas": spec.workers - 1,
            "restartPolicy": "ExitCode",
            "template": _worker_template(spec, role="worker", container="pytorch", command=command, ports=port),
        }
    return {
        "apiVersion": BACKEND_KINDS["pytorchjob"][0],
        "kind": BACKEND_KINDS["pytorchjob"][1],
        "metadata": _metadata(spec),
        "spec": {
            "runPolicy": _run_policy(spec),
            "nprocPerNode": str(spec.gpus_per_worker),
            "pytorchReplicaSpecs": replicas,
        },
    }


def trainjob_manifest(spec: JobSpec) -> dict[str, Any]:
    """A Kubeflow Trainer TrainJob on the ``torch-distributed`` ClusterTrainingRuntime.

    The trainer container ("node") takes image, command, env and resources from ``spec.trainer``;
    placement, volumes and annotations go in a runtime patch of the "node" replicated job. The
    runtime owns the pod's other fields (restart and retry policy, its own init containers), so
    the wait-for-FUSE init container and the run policy of the other backends do not apply here.
    """
    template = _worker_template(spec, role="node", container=TRAINJOB_NODE, command=list(spec.command or ()))
    pod = template["spec"]
    node = pod["containers"][0]
    patch_pod = {
        "nodeSelector": pod["nodeSelector"],
        "tolerations": pod["tolerations"],
        "securityContext": pod["securityContext"],
        "volumes": pod["volumes"],
        "containers": [
            {"name": TRAINJOB_NODE, "volumeMounts": node["volumeMounts"], "securityContext": node["securityContext"]}
        ],
    }
    return {
        "apiVersion": BACKEND_KINDS["trainjob"][0],
        "kind": BACKEND_KINDS["trainjob"][1],
        "metadata": _metadata(spec),
        "spec": {
            "runtimeRef": {
                "apiGroup": "trainer.kubeflow.org",
                "kind": "ClusterTrainingRuntime",
                "name": TRAINJOB_RUNTIME,
            },
            "trainer": {
                "image": spec.image,
                "command": node["command"],
                "env": node["env"],
                "numNodes": spec.workers,
                "numProcPerNode": spec.gpus_per_worker,
                "resourcesPerNode": node["resources"],
            },
            "runtimePatches": [
                {
                    "manager": RUNTIME_PATCH_MANAGER,
                    "trainingRuntimeSpec": {
                        "template": {
                            "spec": {
                                "replicatedJobs": [
                                    {
                                        "name": TRAINJOB_NODE,
                                        "template": {
                                            "spec": {
                                                "template": {"metadata": template["metadata"], "spec": patch_pod}
                                            }
                                        },
                                    }
                                ]
                            }
                        }
                    },
                }
            ],
        },
    }


def batch_job_manifest(spec: JobSpec) -> dict[str, Any]:
    """A plain ``batch/v1`` Job: one GPU node, no operator; the ranks run under a local mpirun.

    ``restartPolicy: Never`` lets the Job count failed pods against ``backoffLimit``; evictions
    and preemptions (``DisruptionTarget``) are not counted, since they say nothing about the job.
    """
    probe = spec.mode == "probe"
    template = _worker_template(spec, role="trainer", container="trainer", command=horovod_main_command(spec),
                                restart_policy="Never")
    if probe:
        template["spec"]["serviceAccountName"] = probe_service_account_name(spec.job_name)
        template["spec"]["automountServiceAccountToken"] = True
    return {
        "apiVersion": BACKEND_KINDS["job"][0],
        "kind": BACKEND_KINDS["job"][1],
        "metadata": _metadata(spec),
        "spec": {
            "backoffLimit": spec.backoff_limit,
            "ttlSecondsAfterFinished": spec.ttl_seconds_after_finished,
            "completions": 1,
            "parallelism": 1,
            "podFailurePolicy": {
                "rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]}]
            },
            "template": template,
        },
    }


BUILDERS: Final = {
    "mpijob": mpijob_manifest,
    "tfjob": tfjob_manifest,
    "pytorchjob": pytorchjob_manifest,
    "trainjob": trainjob_manifest,
    "job": batch_job_manifest,
}


def job_manifest(spec: JobSpec) -> dict[str, Any]:
    """The manifest of the spec's backend."""
    return BUILDERS[spec.backend](spec)


# --- helper objects ----------------------------------------------------------------------------


def scripts_config_map_manifest(spec: JobSpec, sources: Mapping[str, str]) -> dict[str, Any]:
    """ConfigMap with the in-pod scripts (``components/job_scripts``), mounted at SCRIPTS_DIR."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": scripts_config_map_name(spec.job_name),
            "namespace": spec.namespace,
            "labels": _labels(spec, "scripts"),
        },
        "data": dict(sources),
    }


def probe_result_config_map_manifest(spec: JobSpec) -> dict[str, Any]:
    """The empty ConfigMap the probe patches its result into.

    Created up front because RBAC cannot limit ``create`` to one object name (the name is not
    known when ``create`` is authorised), while ``get``/``patch`` can be limited to this one. It
    carries no ``data``, so the probe's keys never conflict with what Pulumi manages.
    """
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": probe_result_config_map_name(spec.job_name),
            "namespace": spec.namespace,
            "labels": _labels(spec, "probe-result"),
        },
    }


def probe_rbac_manifests(spec: JobSpec) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """ServiceAccount, Role and RoleBinding letting the probe get and patch its result ConfigMap only."""
    name = probe_service_account_name(spec.job_name)
    metadata = {"name": name, "namespace": spec.namespace, "labels": _labels(spec, "probe")}
    service_account = {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": metadata,
        "automountServiceAccountToken": False,
    }
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": metadata,
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["configmaps"],
                "resourceNames": [probe_result_config_map_name(spec.job_name)],
                "verbs": ["get", "patch"],
            }
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": spec.namespace}],
    }
    return service_account, role, binding
