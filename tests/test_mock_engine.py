"""The offline engine: pulumi's own mocks, recording what a real engine would receive."""

from __future__ import annotations

import json

import pulumi
import pulumi_kubernetes as k8s

from ack_alluxio_training.offline.export import stack_export
from ack_alluxio_training.offline.mock_engine import SECRET_SIG, run_program
from ack_alluxio_training.offline.stack_config import config_from_mapping


def _program() -> None:
    provider = k8s.Provider("cluster", kubeconfig=pulumi.Output.secret("apiVersion: v1"))
    namespace = k8s.core.v1.Namespace(
        "ns", metadata={"name": "alluxio"}, opts=pulumi.ResourceOptions(provider=provider, protect=True)
    )
    k8s.core.v1.Secret(
        "creds",
        metadata={"namespace": namespace.metadata.name},
        string_data={"key": pulumi.Output.secret("top-secret-value")},
        opts=pulumi.ResourceOptions(provider=provider, depends_on=[namespace], retain_on_delete=True),
    )
    pulumi.export("namespace", namespace.metadata.name)
    pulumi.export("token", pulumi.Output.secret("top-secret-value"))


def test_records_type_options_inputs_and_secrets() -> None:
    result = run_program(config_from_mapping("dev", {}), _program)
    namespace = result.named("ns")
    secret = result.named("creds")
    assert namespace.type == "kubernetes:core/v1:Namespace"
    assert namespace.protect and not namespace.retain_on_delete
    assert namespace.provider.startswith(result.named("cluster").urn)
    assert secret.retain_on_delete and namespace.urn in secret.dependencies
    assert secret.inputs["stringData"] == {"key": "top-secret-value"}
    assert secret.secret_input_paths == ["stringData"]
    assert result.named("cluster").secret_input_paths == ["kubeconfig"]
    assert result.outputs["namespace"] == "alluxio"
    assert result.outputs["token"][SECRET_SIG]


def test_runs_are_independent() -> None:
    first = run_program(config_from_mapping("dev", {}), _program)
    second = run_program(config_from_mapping("dev", {}), _program)
    assert len(first.resources) == len(second.resources) == 3


def test_export_redacts_secrets() -> None:
    document = stack_export(run_program(config_from_mapping("dev", {}), _program))
    text = json.dumps(document)
    assert "top-secret-value" not in text
    resources = document["deployment"]["resources"]
    assert resources[0]["type"] == "pulumi:pulumi:Stack"
    assert all({"urn", "type", "inputs", "outputs"} <= set(r) for r in resources)
    protected = [r for r in resources if r.get("protect")]
    assert [r["type"] for r in protected] == ["kubernetes:core/v1:Namespace"]


def test_whole_numbers_stay_integers() -> None:
    def program() -> None:
        k8s.apps.v1.Deployment(
            "d",
            spec=k8s.apps.v1.DeploymentSpecArgs(
                replicas=4,
                selector=k8s.meta.v1.LabelSelectorArgs(match_labels={"a": "b"}),
                template=k8s.core.v1.PodTemplateSpecArgs(spec=k8s.core.v1.PodSpecArgs(containers=[])),
            ),
        )

    recorded = run_program(config_from_mapping("dev", {}), program).named("d")
    replicas = recorded.inputs["spec"]["replicas"]
    assert replicas == 4 and isinstance(replicas, int)


def _program_with_secret_outputs() -> None:
    provider = k8s.Provider("cluster", kubeconfig="apiVersion: v1")
    plain = k8s.core.v1.ConfigMap("plain", data={"key": "visible"}, opts=pulumi.ResourceOptions(provider=provider))
    listed = k8s.core.v1.ConfigMap(
        "listed",
        data={"key": "listed-value"},
        opts=pulumi.ResourceOptions(provider=provider, additional_secret_outputs=["data"]),
    )
    carried = k8s.core.v1.ConfigMap(
        "carried", data={"key": pulumi.Output.secret("carried-value")}, opts=pulumi.ResourceOptions(provider=provider)
    )
    pulumi.export("plainSecret", plain.data.is_secret())
    pulumi.export("listedSecret", listed.data.is_secret())
    pulumi.export("carriedSecret", carried.data.is_secret())
    pulumi.export("listedData", listed.data)


def test_secret_outputs_come_back_secret_as_from_the_engine() -> None:
    """additionalSecretOutputs and secret inputs make the same-named outputs secret, in the recorded
    state and for the program (Output.is_secret), as the Pulumi engine does."""
    result = run_program(config_from_mapping("dev", {}), _program_with_secret_outputs)
    assert result.outputs["plainSecret"] is False
    assert result.outputs["listedSecret"] is True and result.outputs["carriedSecret"] is True
    assert result.outputs["listedData"][SECRET_SIG], "an output computed from a secret output stays secret"
    assert SECRET_SIG not in json.dumps(result.named("plain").outputs)
    for name in ("listed", "carried"):
        assert result.named(name).outputs["data"][SECRET_SIG], name
    exported = {r["urn"].rsplit("::", 1)[-1]: r for r in stack_export(result)["deployment"]["resources"]}
    outputs = json.dumps({name: exported[name]["outputs"] for name in ("plain", "listed", "carried")})
    assert "listed-value" not in outputs and "carried-value" not in outputs and "visible" in outputs
    # Inputs stay as given: additionalSecretOutputs is about outputs, a secret input is a secret anyway.
    assert "carried-value" not in json.dumps(exported["carried"]["inputs"])
