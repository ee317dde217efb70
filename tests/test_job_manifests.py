"""Training-job manifests: valid Kubernetes objects, and every pod follows the platform's rules.

The rules (GPUs only where computing, Guaranteed QoS, /dev/shm, the FUSE mount, placement, the
declared reader threads) are checked on the manifests themselves, for dev-like (one small GPU)
and prod-like (the study's 4 x 8 V100) settings and every backend. The CRD check runs only when
the operators' CRDs are present in ../shared/reference (they are not part of the project).
"""

from __future__ import annotations

import copy
import re
from typing import Any

import kubernetes_validate
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ack_alluxio_training import job_manifests as jm
from ack_alluxio_training.conventions import READER_THREADS_ANNOTATION
from ack_alluxio_training.offline.stack_config import available_stacks, config_from_mapping, load_stack_config
from ack_alluxio_training.quantities import memory_bytes
from ack_alluxio_training.settings import (
    PROJECT,
    PlatformSettings,
    SettingsError,
    TrainingJobSettings,
    settings_from_config,
)
from tests.crd_schemas import crd_validator
from tests.test_image_references import PINNED_IMAGE

KUBERNETES_VERSION = "1.33"
MOUNT_POINT = "/mnt/alluxio/fuse"
NODE_SELECTOR = {"ack-alluxio-training/role": "gpu-cache"}
TOLERATIONS = [{"key": "ack-alluxio-training/gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]
TORCH_COMMAND = ["torchrun", "/workspace/train.py", "--data-dir=$(DATA_DIR)"]

DEV_LIKE: dict[str, Any] = {
    "environment": "dev",
    "nodePool": {
        "instanceTypes": ["ecs.gn7i-c8g1.2xlarge"], "gpusPerNode": 1, "cpuPerNode": 8, "memoryGibPerNode": 30,
        "desiredSize": 1,
    },
    "cache": {"quotaPerNode": "5Gi"},
    "alluxio": {
        "master": {"cpu": "1", "memory": "4Gi"}, "jobMaster": {"cpu": "500m", "memory": "1Gi"},
        "worker": {"cpu": "1", "memory": "8Gi"}, "jobWorker": {"cpu": "500m", "memory": "1Gi"},
    },
    "fuse": {"resources": {"cpu": "1", "memory": "4Gi"}},
    "job": {
        "workers": 1, "gpusPerWorker": 1, "resources": {"cpu": "3", "memory": "10Gi"}, "readerThreads": 8,
        "shmSize": "2Gi", "batchSize": 64, "numBatches": 200,
    },
}
PROD_LIKE: dict[str, Any] = {
    "environment": "prod",
    "nodePool": {"instanceTypes": ["ecs.gn6v-c8g1.16xlarge"], "desiredSize": 4},
    "cache": {"quotaPerNode": "40Gi"},
    "alluxio": {},
    "fuse": {},
    "job": {"resources": {"cpu": "32", "memory": "120Gi"}, "image": PINNED_IMAGE},  # the rest: the study's defaults
}
VARIANTS = {"dev": DEV_LIKE, "prod": PROD_LIKE}


def platform_settings(variant: dict[str, Any], jobs: list[dict[str, Any]]) -> PlatformSettings:
    """Settings of a dev-like or prod-like platform with two datasets and the given jobs."""
    raw = {
        "environment": variant["environment"],
        "region": "cn-beijing",
        "cluster": {"clusterId": "c0123456789abcdef0123456789abcdef"},
        "nodePool": variant["nodePool"],
        "datasets": [
            {"name": "imagenet", "bucket": "acme-imagenet", "prefix": "tfrecords", "sizeGib": 4, "fileCount": 32},
            {"name": "coco", "bucket": "acme-coco", "sizeGib": 1, "fileCount": 10, "readOnly": False},
        ],
        "cache": variant["cache"],
        "alluxio": variant["alluxio"],
        "fuse": variant["fuse"],
        "jobs": jobs,
    }
    config = config_from_mapping("test", {f"{PROJECT}:{key}": value for key, value in raw.items()})
    return settings_from_config(config.values, config.secret_keys)


def job_config(variant: dict[str, Any], backend: str, mode: str = "train", **overrides: Any) -> dict[str, Any]:
    job = {**variant["job"], "name": f"{backend}-{mode}", "backend": backend, "mode": mode, "dataset": "imagenet"}
    if backend == "job":
        job["workers"] = 1
    if backend in jm.COMMAND_REQUIRED_BACKENDS:
        job["command"] = TORCH_COMMAND
    return {**job, **overrides}


def spec_for(settings: PlatformSettings, job: TrainingJobSettings) -> jm.JobSpec:
    return jm.job_spec(
        settings, job, fuse_mount_point=MOUNT_POINT, node_selector=NODE_SELECTOR, tolerations=TOLERATIONS
    )


def build(variant: str, backend: str, mode: str = "train", **overrides: Any) -> tuple[jm.JobSpec, dict[str, Any]]:
    settings = platform_settings(VARIANTS[variant], [job_config(VARIANTS[variant], backend, mode, **overrides)])
    spec = spec_for(settings, settings.jobs[0])
    return spec, jm.job_manifest(spec)


CASES = [
    (variant, backend, mode)
    for variant in VARIANTS
    for backend in jm.BACKENDS
    for mode in (("train", "probe") if backend in jm.HOROVOD_BACKENDS else ("train",))
]
CASE_IDS = ["-".join(case) for case in CASES]


# --- reading the manifests back ----------------------------------------------------------------


def trainjob_node_template(spec: dict[str, Any]) -> dict[str, Any]:
    """The trainer pod a TrainJob produces: the runtime patch's pod with the trainer container filled in."""
    trainer = spec["trainer"]
    [patch] = spec["runtimePatches"]
    [node_job] = patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    assert node_job["name"] == "node"
    template: dict[str, Any] = copy.deepcopy(node_job["template"]["spec"]["template"])
    [node] = template["spec"]["containers"]
    node.update(
        image=trainer["image"], command=trainer["command"], env=trainer["env"], resources=trainer["resourcesPerNode"]
    )
    template["spec"].setdefault("containers", [node])
    return template


def replica_counts(manifest: dict[str, Any]) -> dict[str, int]:
    kind, spec = manifest["kind"], manifest["spec"]
    if kind == "Job":
        return {"trainer": 1}
    if kind == "TrainJob":
        return {"node": spec["trainer"]["numNodes"]}
    key = {"MPIJob": "mpiReplicaSpecs", "TFJob": "tfReplicaSpecs", "PyTorchJob": "pytorchReplicaSpecs"}[kind]
    return {role: replica["replicas"] for role, replica in spec[key].items()}


def pod_templates(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every pod template of a manifest, by replica role."""
    kind, spec = manifest["kind"], manifest["spec"]
    if kind == "Job":
        return {"trainer": spec["template"]}
    if kind == "TrainJob":
        return {"node": trainjob_node_template(spec)}
    key = {"MPIJob": "mpiReplicaSpecs", "TFJob": "tfReplicaSpecs", "PyTorchJob": "pytorchReplicaSpecs"}[kind]
    return {role: replica["template"] for role, replica in spec[key].items()}


def pod_template_object(name: str, template: dict[str, Any]) -> dict[str, Any]:
    """A pod template as a ``v1/PodTemplate`` object, the shape kubernetes-validate checks."""
    return {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": name}, "template": template}


def all_containers(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [*template["spec"].get("initContainers", []), *template["spec"]["containers"]]


def gpus(container: dict[str, Any]) -> int:
    resources = container["resources"]
    assert "nvidia.com/gpu" not in resources.get("requests", {}), "GPUs belong in limits"
    return int(resources.get("limits", {}).get("nvidia.com/gpu", 0))


def volume(template: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [v for v in template["spec"]["volumes"] if v["name"] == name]
    assert len(found) == 1, name
    return found[0]


def mount_at(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == path]
    return mounts[0] if mounts else None


def env(container: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container.get("env", [])}


def flag(command: list[str], name: str) -> str | None:
    values = [part.split("=", 1)[1] for part in command if part.startswith(f"{name}=")]
    return values[-1] if values else None


# --- Kubernetes validity -----------------------------------------------------------------------


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_pod_templates_are_valid_kubernetes(variant: str, backend: str, mode: str) -> None:
    _, manifest = build(variant, backend, mode)
    for role, template in pod_templates(manifest).items():
        kubernetes_validate.validate(
            pod_template_object(f"{backend}-{role.lower()}", template), KUBERNETES_VERSION, strict=True
        )


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("mode", ["train", "probe"])
def test_plain_job_is_a_valid_batch_v1_job(variant: str, mode: str) -> None:
    _, manifest = build(variant, "job", mode)
    assert (manifest["apiVersion"], manifest["kind"]) == ("batch/v1", "Job")
    kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_probe_helper_objects_are_valid_kubernetes(variant: str) -> None:
    spec, _ = build(variant, "mpijob", "probe")
    objects = [
        jm.scripts_config_map_manifest(spec, {"throughput_probe.py": "print()\n"}),
        jm.probe_result_config_map_manifest(spec),
        *jm.probe_rbac_manifests(spec),
    ]
    for document in objects:
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_kinds_and_api_versions() -> None:
    expected = {
        "mpijob": ("kubeflow.org/v2beta1", "MPIJob"),
        "tfjob": ("kubeflow.org/v1", "TFJob"),
        "pytorchjob": ("kubeflow.org/v1", "PyTorchJob"),
        "trainjob": ("trainer.kubeflow.org/v1alpha1", "TrainJob"),
        "job": ("batch/v1", "Job"),
    }
    for backend, kind in expected.items():
        _, manifest = build("prod", backend)
        assert (manifest["apiVersion"], manifest["kind"]) == kind
        assert manifest["metadata"]["name"] == f"{backend}-train"
        # pulumi up must not block on a training run that lasts hours.
        assert manifest["metadata"]["annotations"][jm.SKIP_AWAIT_ANNOTATION] == "true"


def test_container_names_follow_each_operators_convention() -> None:
    expected = {"tfjob": "tensorflow", "pytorchjob": "pytorch", "trainjob": "node"}
    for backend, name in expected.items():
        _, manifest = build("prod", backend)
        for template in pod_templates(manifest).values():
            assert [c["name"] for c in template["spec"]["containers"]] == [name]


def test_trainjob_uses_the_torch_distributed_runtime() -> None:
    spec, manifest = build("prod", "trainjob")
    assert manifest["spec"]["runtimeRef"] == {
        "apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime", "name": "torch-distributed"
    }
    trainer = manifest["spec"]["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (spec.workers, spec.gpus_per_worker)
    assert trainer["command"] == TORCH_COMMAND


# --- the rules every pod follows ---------------------------------------------------------------


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_gpus_only_where_training_runs(variant: str, backend: str, mode: str) -> None:
    spec, manifest = build(variant, backend, mode)
    templates, counts = pod_templates(manifest), replica_counts(manifest)
    total = 0
    for role, template in templates.items():
        pod_gpus = sum(gpus(c) for c in template["spec"]["containers"])
        assert all(gpus(c) == 0 for c in template["spec"].get("initContainers", []))
        if role in ("Launcher", "PS"):
            assert pod_gpus == 0, f"{role} needs cpu only"
            assert all(env(c).get("NVIDIA_VISIBLE_DEVICES") == "void" for c in all_containers(template))
        else:
            assert pod_gpus == spec.gpus_per_worker
        total += pod_gpus * counts[role]
    assert total == spec.ranks  # the study: 32 GPUs in prod


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_every_container_is_guaranteed_qos(variant: str, backend: str, mode: str) -> None:
    spec, manifest = build(variant, backend, mode)
    for template in pod_templates(manifest).values():
        for container in all_containers(template):
            requests, limits = container["resources"]["requests"], container["resources"]["limits"]
            for resource in ("cpu", "memory"):
                assert requests[resource] == limits[resource], (container["name"], resource)
    worker = pod_templates(manifest)[next(iter(r for r in replica_counts(manifest) if r not in ("Launcher", "PS")))]
    main = worker["spec"]["containers"][0]
    assert main["resources"]["limits"]["cpu"] == spec.cpu and main["resources"]["limits"]["memory"] == spec.memory


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_every_pod_has_a_sized_memory_backed_shm(variant: str, backend: str, mode: str) -> None:
    spec, manifest = build(variant, backend, mode)
    for role, template in pod_templates(manifest).items():
        for container in template["spec"]["containers"]:
            mount = mount_at(container, "/dev/shm")
            assert mount is not None, (role, container["name"])
            empty_dir = volume(template, mount["name"])["emptyDir"]
            assert empty_dir["medium"] == "Memory"
            # Memory-backed: it is charged to the container's memory, so it must fit under the limit.
            assert memory_bytes(empty_dir["sizeLimit"]) <= memory_bytes(container["resources"]["limits"]["memory"])
            if role not in ("Launcher", "PS"):
                assert empty_dir["sizeLimit"] == spec.shm_size


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_every_container_sees_the_fuse_mount_by_host_path(variant: str, backend: str, mode: str) -> None:
    _, manifest = build(variant, backend, mode)
    for template in pod_templates(manifest).values():
        for container in all_containers(template):
            mount = mount_at(container, MOUNT_POINT)
            assert mount is not None, container["name"]
            assert mount["mountPropagation"] == "HostToContainer"
            assert mount["readOnly"] is True  # imagenet is a read-only dataset
            assert volume(template, mount["name"])["hostPath"]["path"] == MOUNT_POINT


def test_a_writable_dataset_is_mounted_read_write_under_its_own_path() -> None:
    _, manifest = build("prod", "mpijob", dataset="coco")
    worker = pod_templates(manifest)["Worker"]
    assert mount_at(worker["spec"]["containers"][0], MOUNT_POINT)["readOnly"] is False  # type: ignore[index]
    launcher = manifest["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
    assert flag(launcher["command"], "--data_dir") == f"{MOUNT_POINT}/coco"


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_every_pod_lands_on_the_gpu_pool(variant: str, backend: str, mode: str) -> None:
    _, manifest = build(variant, backend, mode)
    for template in pod_templates(manifest).values():
        assert template["spec"]["nodeSelector"] == NODE_SELECTOR
        assert all(t in template["spec"]["tolerations"] for t in TOLERATIONS)


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_reading_pods_declare_their_reader_threads(variant: str, backend: str, mode: str) -> None:
    spec, manifest = build(variant, backend, mode)
    for role, template in pod_templates(manifest).items():
        annotations = template["metadata"]["annotations"]
        if role in ("Launcher", "PS"):
            assert READER_THREADS_ANNOTATION not in annotations
        else:
            assert annotations[READER_THREADS_ANNOTATION] == str(spec.reader_threads)
        assert annotations[jm.DATA_DIR_ANNOTATION] == MOUNT_POINT


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("backend", ["mpijob", "job", "tfjob"])
def test_the_benchmark_never_runs_more_reader_threads_than_declared(variant: str, backend: str) -> None:
    spec, manifest = build(variant, backend)
    commands = [c["command"] for t in pod_templates(manifest).values() for c in t["spec"]["containers"]]
    per_process = [int(v) for v in (flag(c, "--datasets_num_private_threads") for c in commands) if v]
    assert per_process, "the built-in benchmark sets its reader threads"
    processes_per_pod = 1 if backend == "tfjob" else spec.gpus_per_worker
    assert all(1 <= threads * processes_per_pod <= spec.reader_threads for threads in per_process)


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_pods_read_the_dataset_directory(variant: str, backend: str, mode: str) -> None:
    _, manifest = build(variant, backend, mode)
    for template in pod_templates(manifest).values():
        for container in all_containers(template):
            assert env(container)["DATA_DIR"] == MOUNT_POINT  # the first dataset is the Alluxio root


@pytest.mark.parametrize("variant", VARIANTS)
def test_pods_wait_for_the_data_before_training(variant: str) -> None:
    for backend in ("mpijob", "tfjob", "pytorchjob", "job"):
        _, manifest = build(variant, backend)
        for role, template in pod_templates(manifest).items():
            init = [c["name"] for c in template["spec"].get("initContainers", [])]
            assert init == ([] if role in ("Launcher", "PS") else ["wait-for-fuse"]), (backend, role)


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_only_the_probe_pod_gets_an_api_token(variant: str, backend: str, mode: str) -> None:
    spec, manifest = build(variant, backend, mode)
    if backend == "trainjob":
        return  # the runtime owns the pod's service account settings
    probe_roles = {"mpijob": "Launcher", "job": "trainer"}
    for role, template in pod_templates(manifest).items():
        probes = mode == "probe" and probe_roles.get(backend) == role
        assert template["spec"]["automountServiceAccountToken"] is probes
        account = jm.probe_service_account_name(spec.job_name) if probes else None
        assert template["spec"].get("serviceAccountName") == account


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=CASE_IDS)
def test_least_privilege_in_every_pod(variant: str, backend: str, mode: str) -> None:
    spec, manifest = build(variant, backend, mode)
    assert manifest["metadata"]["namespace"] == spec.namespace == jm.DEFAULT_NAMESPACE
    assert spec.namespace != "default"
    for role, template in pod_templates(manifest).items():
        assert template["spec"]["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}, role
        for container in all_containers(template):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, (role, container["name"])
            assert security["capabilities"]["drop"] == ["ALL"], (role, container["name"])
            assert "privileged" not in security
            added = security["capabilities"].get("add", [])
            sshd = backend == "mpijob" and role == "Worker" and container["name"] == "worker"
            assert added == (sorted(jm.SSHD_CAPABILITIES) if sshd else []), (role, container["name"])
            assert "SYS_ADMIN" not in added and "NET_RAW" not in added
        for init in template["spec"].get("initContainers", []):
            assert init["securityContext"]["runAsNonRoot"] is True
            assert init["securityContext"]["runAsUser"] == jm.INIT_USER
            assert init["securityContext"]["runAsUser"] != 0
            assert init["securityContext"]["readOnlyRootFilesystem"] is True


# --- run policy ---------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["mpijob", "tfjob", "pytorchjob"])
def test_operator_run_policy(backend: str) -> None:
    _, manifest = build("prod", backend, backoffLimit=2, ttlSecondsAfterFinished=3600)
    expected = {"cleanPodPolicy": "Running", "backoffLimit": 2, "ttlSecondsAfterFinished": 3600}
    assert manifest["spec"]["runPolicy"] == expected


def test_plain_job_run_policy() -> None:
    _, manifest = build("dev", "job", backoffLimit=1, ttlSecondsAfterFinished=600)
    spec = manifest["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"], spec["completions"]) == (1, 600, 1)
    assert spec["template"]["spec"]["restartPolicy"] == "Never"


# --- the study's benchmark -------------------------------------------------------------------------


def test_prod_defaults_reproduce_the_studys_horovod_run() -> None:
    _, manifest = build("prod", "mpijob")
    mpijob = manifest["spec"]
    assert mpijob["slotsPerWorker"] == 8 and mpijob["mpiReplicaSpecs"]["Worker"]["replicas"] == 4
    assert mpijob["mpiImplementation"] == "OpenMPI"
    [launcher] = mpijob["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"]
    command = launcher["command"]
    assert command[0] == "mpirun" and command[command.index("-np") + 1] == "32"
    assert jm.TF_CNN_BENCHMARKS in command
    for name, value in {
        "--variable_update": "horovod", "--model": "resnet50", "--batch_size": "256", "--data_name": "imagenet",
        "--data_dir": MOUNT_POINT, "--num_gpus": "1", "--num_batches": "1000",
    }.items():
        assert flag(command, name) == value, name
    assert "--use_fp16" in command
    [worker] = mpijob["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"]
    assert worker["command"][0].endswith("sshd")


def test_tfjob_runs_parameter_server_mode_with_the_cluster_from_tf_config() -> None:
    _, manifest = build("prod", "tfjob")
    replicas = manifest["spec"]["tfReplicaSpecs"]
    assert set(replicas) == {"PS", "Worker"} and replicas["Worker"]["replicas"] == 4
    for role, replica in replicas.items():
        [container] = replica["template"]["spec"]["containers"]
        command = container["command"]
        assert command[1].endswith("/with_tf_cluster_flags.py") and jm.TF_CNN_BENCHMARKS in command
        assert flag(command, "--variable_update") == "parameter_server"
        assert {"name": "tfjob-port", "containerPort": 2222} in container["ports"]
        assert mount_at(container, jm.SCRIPTS_DIR) is not None
        if role == "Worker":
            assert flag(command, "--num_gpus") == "8" and flag(command, "--data_dir") == MOUNT_POINT


def test_pytorchjob_has_one_master_and_the_other_workers() -> None:
    _, manifest = build("prod", "pytorchjob")
    counts = replica_counts(manifest)
    assert counts == {"Master": 1, "Worker": 3}
    assert manifest["spec"]["nprocPerNode"] == "8"
    _, single = build("dev", "pytorchjob")
    assert replica_counts(single) == {"Master": 1}


def test_a_configured_command_replaces_the_benchmark() -> None:
    command = ["python3", "/app/train.py", "--data=$(DATA_DIR)"]
    _, mpijob = build("prod", "mpijob", command=command)
    launcher = mpijob["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]["command"]
    assert launcher[0] == "mpirun" and launcher[-len(command):] == command  # still one rank per GPU
    _, job = build("dev", "job", command=command)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == command
    _, tfjob = build("prod", "tfjob", command=command)
    assert all(c["command"] == command for t in pod_templates(tfjob).values() for c in t["spec"]["containers"])


# --- probe mode ------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["mpijob", "job"])
def test_probe_runs_the_benchmark_under_the_probe_script(backend: str) -> None:
    spec, manifest = build("prod", backend, "probe")
    pod = pod_templates(manifest)["Launcher" if backend == "mpijob" else "trainer"]
    [container] = pod["spec"]["containers"]
    command = container["command"]
    assert command[:2] == ["python3", f"{jm.SCRIPTS_DIR}/throughput_probe.py"]
    assert command[command.index("--data-dir") + 1] == MOUNT_POINT
    assert command[command.index("--result-configmap") + 1] == jm.probe_result_config_map_name(spec.job_name)
    benchmark = command[command.index("--") + 1:]
    assert benchmark[0] == "mpirun" and flag(benchmark, "--data_dir") is None  # the probe adds it for run 2
    assert volume(pod, jm.SCRIPTS_VOLUME)["configMap"]["name"] == jm.scripts_config_map_name(spec.job_name)


def test_probe_role_grants_get_and_patch_on_its_result_only() -> None:
    spec, _ = build("prod", "mpijob", "probe")
    account, role, binding = jm.probe_rbac_manifests(spec)
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"],
         "resourceNames": [jm.probe_result_config_map_name(spec.job_name)]}
    ]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": account["metadata"]["name"], "namespace": spec.namespace}
    ]
    assert "data" not in jm.probe_result_config_map_manifest(spec)


# --- refusals ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variant", "job", "message"),
    [
        ("prod", {"backend": "tfjob", "mode": "probe"}, "mode 'probe'"),
        ("prod", {"backend": "pytorchjob", "command": None}, "set command"),
        ("prod", {"backend": "trainjob", "command": None}, "set command"),
        ("prod", {"readerThreads": 4}, "readerThreads 4 is below gpusPerWorker 8"),
        ("prod", {"shmSize": "200Gi"}, "shmSize"),
        ("prod", {"name": "1st-run"}, "must start with a letter"),
    ],
)
def test_settings_refuse_jobs_a_backend_cannot_run(variant: str, job: dict[str, Any], message: str) -> None:
    base = job_config(VARIANTS[variant], job.get("backend", "mpijob"))
    with pytest.raises(SettingsError, match=re.escape(message)):
        platform_settings(VARIANTS[variant], [{k: v for k, v in {**base, **job}.items() if v is not None}])


def test_spec_refuses_what_no_backend_can_run() -> None:
    spec, _ = build("prod", "mpijob")
    values = {name: getattr(spec, name) for name in spec.__dataclass_fields__}
    changes: list[tuple[dict[str, Any], str]] = [
        ({"backend": "slurm"}, "backend 'slurm'"),
        ({"backend": "tfjob", "mode": "probe"}, "mode 'probe'"),
        ({"backend": "job", "workers": 2}, "workers must be 1"),
        ({"fuse_mount_point": "relative"}, "absolute"),
        ({"unknown": 1}, "unknown training job fields"),
    ]
    for change, message in changes:
        with pytest.raises(ValueError, match=re.escape(message)):
            jm.JobSpec.from_values({**values, **change})


# --- data paths ----------------------------------------------------------------------------------------


def test_dataset_paths() -> None:
    names = ["imagenet", "coco"]
    assert jm.dataset_alluxio_path(names, "imagenet") == "/"
    assert jm.dataset_alluxio_path(names, "coco") == "/coco"
    assert jm.data_dir("/mnt/alluxio/fuse", "/") == "/mnt/alluxio/fuse"
    assert jm.data_dir("/mnt/alluxio/fuse/", "/coco") == "/mnt/alluxio/fuse/coco"
    with pytest.raises(ValueError, match="not one of the datasets"):
        jm.dataset_alluxio_path(names, "cifar")


_SEGMENT = st.from_regex(r"[a-z0-9][a-z0-9-]{0,10}", fullmatch=True)


@given(mount=st.lists(_SEGMENT, min_size=1, max_size=4), dataset=st.one_of(st.just(""), _SEGMENT))
def test_data_dir_is_the_mount_point_or_one_level_below(mount: list[str], dataset: str) -> None:
    mount_point = "/" + "/".join(mount)
    path = jm.data_dir(mount_point, f"/{dataset}")
    assert "//" not in path and path.startswith(mount_point)
    assert path == (f"{mount_point}/{dataset}" if dataset else mount_point)


@given(threads=st.integers(1, 1024), processes=st.integers(1, 16))
def test_reader_threads_are_shared_without_exceeding_the_declaration(threads: int, processes: int) -> None:
    per_process = jm.reader_threads_per_process(threads, processes)
    assert per_process >= 1
    if threads >= processes:  # what settings guarantee for Horovod backends
        assert per_process * processes <= threads < (per_process + 1) * processes


# --- the shipped stacks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", available_stacks())
def test_every_stacks_jobs_build_valid_pods(stack: str) -> None:
    config = load_stack_config(stack)
    settings = settings_from_config(config.values, config.secret_keys)
    for job in settings.jobs:
        manifest = jm.job_manifest(spec_for(settings, job))
        for template in pod_templates(manifest).values():
            kubernetes_validate.validate(pod_template_object(job.name, template), KUBERNETES_VERSION, strict=True)


# --- CRD schemas (only with ../shared/reference) ------------------------------------------------------------

@pytest.mark.parametrize(("variant", "backend", "mode"), [c for c in CASES if c[1] != "job"],
                         ids=[i for c, i in zip(CASES, CASE_IDS, strict=True) if c[1] != "job"])
def test_custom_resources_match_their_crd_schema_strictly(variant: str, backend: str, mode: str) -> None:
    validator = crd_validator(backend)
    _, manifest = build(variant, backend, mode)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert not errors, errors


def test_the_strict_crd_check_catches_unknown_fields() -> None:
    validator = crd_validator("mpijob")
    _, manifest = build("prod", "mpijob")
    manifest["spec"]["slotsPerNode"] = 8
    manifest["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["gpus"] = 8
    assert len(list(validator.iter_errors(manifest))) == 2
