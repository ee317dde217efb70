"""TrainingNamespace: the namespace the training jobs run in, closed to traffic by default.

Jobs never run in ``default``: this namespace holds only training pods, their probe's RBAC and
ConfigMaps. It starts with a default-deny NetworkPolicy; each ``TrainingJob`` opens the traffic
between its own pods (``network_policies.training_job_policy``).

Pod Security Admission cannot express what training pods need: every level below ``privileged``
refuses hostPath volumes, and the pods read the dataset through the FUSE mount's host path. So the
namespace is labelled ``privileged`` explicitly, and the policy pack does what PSA cannot here:
``privileged-pods-only-in-fuse-namespace`` refuses privileged containers and SYS_ADMIN outside the
FUSE namespace, and the job builders drop every capability (SECURITY.md).
"""

from typing import Final, Required, TypedDict

import pulumi
import pulumi_kubernetes as k8s

from ack_alluxio_training import network_policies
from ack_alluxio_training.cluster_access import children_options

TYPE_TOKEN: Final = "ack-alluxio-training:index:TrainingNamespace"


class TrainingNamespaceArgs(TypedDict, total=False):
    """Inputs of :class:`TrainingNamespace`."""

    name: Required[str]
    """Namespace name (a DNS label); ``job_manifests.DEFAULT_NAMESPACE`` for the platform."""
    kubeconfig: pulumi.Input[str]
    """Kubeconfig of an existing cluster; without it the caller's (or the default) Kubernetes provider is used."""


class TrainingNamespace(pulumi.ComponentResource):
    """The training namespace and its default-deny NetworkPolicy."""

    name: pulumi.Output[str]
    """The namespace's name; resolves once the namespace is registered, so jobs depend on it."""

    def __init__(self, name: str, args: TrainingNamespaceArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(TYPE_TOKEN, name, {}, opts)
        child = children_options(self, name, args.get("kubeconfig"))
        namespace = k8s.core.v1.Namespace(
            f"{name}-namespace",
            metadata={
                "name": args["name"],
                "labels": {
                    **network_policies.PART_OF_LABELS,
                    # Explicit: hostPath (the FUSE mount) is refused by every lower level; the policy
                    # pack keeps privileged containers out instead (see the module docstring).
                    "pod-security.kubernetes.io/enforce": "privileged",
                },
            },
            opts=child,
        )
        self.name = namespace.metadata.name
        deny = network_policies.default_deny(self.name)
        k8s.networking.v1.NetworkPolicy(
            f"{name}-default-deny", metadata=deny["metadata"], spec=deny["spec"], opts=child
        )
        self.register_outputs({"name": self.name})
