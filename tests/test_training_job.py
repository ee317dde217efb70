"""TrainingJob under the offline mock engine: what it registers, with which provider and ordering.

The node pool and FUSE components are stood in for by tiny objects with the attributes a
TrainingJob reads (``node_selector``, ``tolerations``, ``mount_point``), holding Outputs as the
real ones do (or plain values, which must work too).
"""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pulumi
import pulumi_kubernetes as k8s
import pytest

from ack_alluxio_training import job_manifests as jm
from ack_alluxio_training.job_scripts import script_sources
from ack_alluxio_training.offline.mock_engine import PlanResult, RecordedResource, run_program
from ack_alluxio_training.offline.stack_config import config_from_mapping
from ack_alluxio_training.platform_args import training_job_args
from ack_alluxio_training.settings import PlatformSettings
from ack_alluxio_training.training_job import CLUSTER_ACCESS_ARGS, TYPE_TOKEN, TrainingJob, TrainingJobArgs
from tests.test_job_manifests import (
    KUBERNETES_VERSION,
    MOUNT_POINT,
    NODE_SELECTOR,
    TOLERATIONS,
    VARIANTS,
    job_config,
    platform_settings,
    pod_template_object,
    pod_templates,
    spec_for,
)

JOB_TYPES = {
    "mpijob": "kubernetes:kubeflow.org/v2beta1:MPIJob",
    "tfjob": "kubernetes:kubeflow.org/v1:TFJob",
    "pytorchjob": "kubernetes:kubeflow.org/v1:PyTorchJob",
    "trainjob": "kubernetes:trainer.kubeflow.org/v1alpha1:TrainJob",
    "job": "kubernetes:batch/v1:Job",
}


class StandInNodePool:
    """The part of GpuNodePool a TrainingJob reads."""

    def __init__(self, *, as_outputs: bool = True) -> None:
        self.node_selector: Any = pulumi.Output.from_input(NODE_SELECTOR) if as_outputs else NODE_SELECTOR
        self.tolerations: Any = pulumi.Output.from_input(TOLERATIONS) if as_outputs else TOLERATIONS


class StandInFuse:
    """The part of AlluxioFuse a TrainingJob reads."""

    def __init__(self, *, as_outputs: bool = True) -> None:
        self.mount_point: Any = pulumi.Output.from_input(MOUNT_POINT) if as_outputs else MOUNT_POINT


def settings_for(variant: str, backend: str, mode: str = "train", **overrides: Any) -> PlatformSettings:
    return platform_settings(VARIANTS[variant], [job_config(VARIANTS[variant], backend, mode, **overrides)])


def plan(settings: PlatformSettings, *, as_outputs: bool = True) -> PlanResult:
    """Run a program with a provider, a stand-in for "FUSE is ready", and the settings' first job."""

    def program() -> None:
        provider = k8s.Provider("cluster", kubeconfig="apiVersion: v1")
        fuse_ready = k8s.core.v1.Namespace(
            "fuse-ready", metadata={"name": "alluxio-fuse"}, opts=pulumi.ResourceOptions(provider=provider)
        )
        job = settings.jobs[0]
        pool, fuse = StandInNodePool(as_outputs=as_outputs), StandInFuse(as_outputs=as_outputs)
        training = TrainingJob(
            f"training-{job.name}",
            training_job_args(settings, job, pool, fuse),
            pulumi.ResourceOptions(providers=[provider], depends_on=[fuse_ready]),
        )
        pulumi.export("jobName", training.job_name)
        if training.probe_result_config_map is not None:
            pulumi.export("probeResult", training.probe_result_config_map)

    return run_program(config_from_mapping("test", {}), program)


def component(result: PlanResult) -> RecordedResource:
    [found] = result.by_type(TYPE_TOKEN)
    return found


def children(result: PlanResult) -> list[RecordedResource]:
    return [r for r in result.resources if r.parent == component(result).urn]


def job_resource(result: PlanResult, backend: str) -> RecordedResource:
    [found] = result.by_type(JOB_TYPES[backend])
    return found


CASES = [
    (variant, backend, mode)
    for variant in VARIANTS
    for backend in jm.BACKENDS
    for mode in (("train", "probe") if backend in jm.HOROVOD_BACKENDS else ("train",))
]


@pytest.mark.parametrize(("variant", "backend", "mode"), CASES, ids=["-".join(c) for c in CASES])
def test_registers_the_manifest_the_builders_produce(variant: str, backend: str, mode: str) -> None:
    settings = settings_for(variant, backend, mode)
    result = plan(settings)
    registered = job_resource(result, backend).inputs
    expected = jm.job_manifest(spec_for(settings, settings.jobs[0]))
    assert {key: registered[key] for key in ("apiVersion", "kind", "metadata", "spec")} == expected
    for role, template in pod_templates(registered).items():
        kubernetes_validate.validate(pod_template_object(role.lower(), template), KUBERNETES_VERSION, strict=True)


def test_is_a_component_named_after_the_job() -> None:
    result = plan(settings_for("prod", "mpijob"))
    assert component(result).name == "training-mpijob-train"
    assert job_resource(result, "mpijob").name == "training-mpijob-train-job"
    assert result.outputs["jobName"] == "mpijob-train"


@pytest.mark.parametrize("backend", ["mpijob", "job"])
def test_children_use_the_callers_provider_and_wait_for_fuse(backend: str) -> None:
    result = plan(settings_for("prod", backend, "probe"))
    provider, fuse_ready = result.named("cluster"), result.named("fuse-ready")
    kids = children(result)
    assert len(kids) == 7  # scripts, result ConfigMap, ServiceAccount, Role, RoleBinding, NetworkPolicy, the job
    for child in kids:
        assert child.provider.startswith(provider.urn), child.name
        assert fuse_ready.urn in child.dependencies, child.name


def test_probe_mode_brings_its_script_and_least_privilege_access() -> None:
    settings = settings_for("prod", "mpijob", "probe")
    result = plan(settings)
    name = settings.jobs[0].name
    by_kind = {r.inputs.get("kind") or r.type.rsplit(":", 1)[-1]: r for r in children(result)}
    configmaps = {r.inputs["metadata"]["name"]: r.inputs for r in result.by_type("kubernetes:core/v1:ConfigMap")}
    assert configmaps[jm.scripts_config_map_name(name)]["data"] == script_sources()
    assert "data" not in configmaps[jm.probe_result_config_map_name(name)]
    account = by_kind["ServiceAccount"].inputs
    role = by_kind["Role"].inputs
    binding = by_kind["RoleBinding"].inputs
    assert account["automountServiceAccountToken"] is False  # only the probe pod opts in
    assert role["rules"] == [
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "patch"],
         "resourceNames": [jm.probe_result_config_map_name(name)]}
    ]
    role_name, account_name = role["metadata"]["name"], account["metadata"]["name"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": account_name, "namespace": jm.DEFAULT_NAMESPACE}]
    job = job_resource(result, "mpijob")
    for prerequisite in children(result):
        if prerequisite is not job:
            assert prerequisite.urn in job.dependencies, prerequisite.name
    assert result.outputs["probeResult"] == jm.probe_result_config_map_name(name)
    network = by_kind["NetworkPolicy"].inputs
    assert network["spec"]["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == name
    assert {"protocol": "TCP", "port": 6443} in network["spec"]["egress"][-1]["ports"], "the probe patches via the API"
    launcher = job.inputs["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]
    assert launcher["serviceAccountName"] == account["metadata"]["name"]


def test_train_mode_creates_only_what_the_job_uses() -> None:
    network = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
    assert sorted(r.type for r in children(plan(settings_for("prod", "mpijob")))) == [JOB_TYPES["mpijob"], network]
    tfjob = plan(settings_for("prod", "tfjob"))
    assert sorted(r.type for r in children(tfjob)) == ["kubernetes:core/v1:ConfigMap", JOB_TYPES["tfjob"], network]
    policy = next(r for r in children(tfjob) if r.type == network).inputs
    assert len(policy["spec"]["egress"]) == 2, "only the probe reaches the API server"
    assert "probeResult" not in tfjob.outputs


def test_a_changed_job_is_replaced_delete_first() -> None:
    # The object has a fixed name: a replacement must delete the old run before creating the new one.
    assert job_resource(plan(settings_for("prod", "mpijob")), "mpijob").delete_before_replace


def test_plain_values_work_like_outputs() -> None:
    settings = settings_for("dev", "job")
    with_outputs = job_resource(plan(settings), "job").inputs
    with_plain_values = job_resource(plan(settings, as_outputs=False), "job").inputs
    assert with_outputs == with_plain_values


def test_the_args_are_the_specs_fields() -> None:
    fields = set(jm.JobSpec.__dataclass_fields__)
    assert set(TrainingJobArgs.__annotations__) - CLUSTER_ACCESS_ARGS == fields
    settings = settings_for("prod", "tfjob")
    pool, fuse = StandInNodePool(as_outputs=False), StandInFuse(as_outputs=False)
    assert set(training_job_args(settings, settings.jobs[0], pool, fuse)) == fields


def test_the_second_dataset_is_read_below_the_mount_point() -> None:
    settings = settings_for("prod", "job", dataset="coco")
    template = job_resource(plan(settings), "job").inputs["spec"]["template"]
    env = {e["name"]: e["value"] for e in template["spec"]["containers"][0]["env"]}
    assert env["DATA_DIR"] == f"{MOUNT_POINT}/coco"


def test_an_unknown_backend_is_refused() -> None:
    settings = settings_for("prod", "mpijob")

    def program() -> None:
        args = training_job_args(settings, settings.jobs[0], StandInNodePool(), StandInFuse())
        args["backend"] = "slurm"
        TrainingJob("bad", args)

    with pytest.raises(ValueError, match="backend 'slurm'"):
        run_program(config_from_mapping("test", {}), program)
