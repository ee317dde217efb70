"""How a component reaches an existing cluster: the caller's provider, or one built from a kubeconfig.

Python callers pass a ``pulumi_kubernetes.Provider`` in ``ResourceOptions(providers=[...])`` (the
children inherit it); callers in other languages, or anyone holding only a kubeconfig, pass the
kubeconfig as an argument and the component builds its own provider from it (the pulumi-eks
pattern). Without either, the children use the stack's default Kubernetes provider.
"""

import pulumi
import pulumi_kubernetes as k8s


def children_options(
    component: pulumi.Resource, name: str, kubeconfig: pulumi.Input[str] | None
) -> pulumi.ResourceOptions:
    """Options of the component's Kubernetes children: parented to it, on the given cluster."""
    if kubeconfig is None:
        return pulumi.ResourceOptions(parent=component)
    provider = k8s.Provider(
        f"{name}-kubernetes",
        kubeconfig=pulumi.Output.secret(kubeconfig),
        opts=pulumi.ResourceOptions(parent=component),
    )
    return pulumi.ResourceOptions(parent=component, provider=provider)
