"""Recognise Alluxio in rendered Kubernetes objects: plain manifests and the children of Helm charts.

Not every stack hands Alluxio to Helm as a release. ``kubernetes:helm.sh/v3:Chart`` renders the
chart in the program and registers each object as a child resource (the chart itself carries no
values in the state), and some stacks apply the chart's output, or their own manifests, directly.
Then the truth is in the StatefulSets and DaemonSets: their containers are what runs. A container
is Alluxio's when its image is ``alluxio/alluxio*`` (any registry) or its pod is labelled
``app: alluxio``; which process it runs follows from its name (the chart's ``alluxio-master``,
``alluxio-job-worker``, ...), else its first argument (``master-only``, ``job-worker``, ``fuse``),
else the pod's ``role`` label.

Objects rendered by a ``kubernetes:helm.sh/v4:Chart`` are skipped here: the v4 chart's own values
are in the state and the release rules read them (with the chart's defaults), so reading the
children too would report each finding twice.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from ack_alluxio_training.policies.alluxio_deployments import (
    FUSE,
    JOB_MASTER,
    JOB_WORKER,
    MASTER,
    WORKER,
    AlluxioDeployment,
)
from ack_alluxio_training.policies.guardrails import kubernetes_kinds
from ack_alluxio_training.policies.inputs import as_flag, as_sequence, as_text, dig, per_resource, string_map
from ack_alluxio_training.policies.workloads import PodTemplate, pod_templates

#: Workload kinds the chart renders Alluxio processes into (and what plain manifests use).
WORKLOAD_KINDS: Final = (("apps", "StatefulSet"), ("apps", "DaemonSet"), ("apps", "Deployment"))
is_workload_type = kubernetes_kinds(*WORKLOAD_KINDS)
#: The chart type whose children are already covered by its values (see the module docstring).
HELM_V4_CHART: Final = "kubernetes:helm.sh/v4:Chart"

#: The chart's container names (chart 0.6.53 templates).
CONTAINER_COMPONENTS: Final = {
    "alluxio-master": MASTER, "alluxio-job-master": JOB_MASTER, "alluxio-worker": WORKER,
    "alluxio-job-worker": JOB_WORKER, "alluxio-fuse": FUSE,
}
#: The first argument of the image's entrypoint for each process.
ARGUMENT_COMPONENTS: Final = {
    "master-only": MASTER, "master": MASTER, "job-master": JOB_MASTER, "worker-only": WORKER, "worker": WORKER,
    "job-worker": JOB_WORKER, "fuse": FUSE,
}
#: The chart's pod ``role`` labels.
ROLE_COMPONENTS: Final = {"alluxio-master": MASTER, "alluxio-worker": WORKER, "alluxio-fuse": FUSE}
_ALLUXIO_IMAGE: Final = re.compile(r"(?:^|/)alluxio/alluxio[A-Za-z0-9._-]*$")


def is_alluxio_image(image: str | None) -> bool:
    """Whether an image reference names an Alluxio image (``alluxio/alluxio``, ``alluxio/alluxio-fuse``, ...)."""
    if not image:
        return False
    repository = image.strip().split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    if ":" in last:
        repository = repository[: len(repository) - len(last)] + last.split(":", 1)[0]
    return _ALLUXIO_IMAGE.search(repository) is not None


@dataclass(frozen=True)
class RenderedComponent:
    """One Alluxio process found in a workload: which one, its container, where it sits."""

    name: str
    container: Mapping[str, Any]
    index: int
    template: PodTemplate
    label: str

    def resource(self, kind: str, name: str) -> str | None:
        """The container's ``resources.<kind>.<name>``."""
        return as_text(dig(self.container.get("resources"), kind, name))

    def origin(self, kind: str, name: str) -> str:
        return self.template.at(f"spec.containers[{self.index}].resources.{kind}.{name}")

    @property
    def host_network(self) -> bool:
        return as_flag(self.template.spec.get("hostNetwork")) is True


def _component_of(container: Mapping[str, Any], labels: Mapping[str, str]) -> str | None:
    named = CONTAINER_COMPONENTS.get(as_text(container.get("name")) or "")
    if named is not None:
        return named
    arguments = [as_text(a) for a in as_sequence(container.get("args"))]
    if arguments and arguments[0] in ARGUMENT_COMPONENTS:
        return ARGUMENT_COMPONENTS[arguments[0]]
    return ROLE_COMPONENTS.get(labels.get("role", ""))


def rendered_by_v4_chart(parent: str | None) -> bool:
    """Whether a resource's parent URN is a ``helm.sh/v4:Chart`` (its type is the last of the chain)."""
    if not parent or parent.count("::") < 3:
        return False
    return parent.split("::")[2].rsplit("$", 1)[-1] == HELM_V4_CHART


def rendered_components(resource_type: str, props: Mapping[str, Any], resource_name: str,
                        parent: str | None = None) -> list[RenderedComponent]:
    """The Alluxio processes a workload runs (empty for anything else, or a v4 Chart's child)."""
    if not is_workload_type(resource_type) or rendered_by_v4_chart(parent):
        return []
    kind = resource_type.rsplit(":", 1)[-1]
    name = as_text(dig(props, "metadata", "name")) or resource_name
    found: list[RenderedComponent] = []
    for template in pod_templates(resource_type, props):
        labels = string_map(template.metadata.get("labels"))
        for index, container in template.containers:
            if not (is_alluxio_image(as_text(container.get("image"))) or labels.get("app") == "alluxio"):
                continue
            component = _component_of(container, labels)
            if component is None:
                continue
            container_name = as_text(container.get("name")) or str(index)
            found.append(RenderedComponent(component, container, index, template,
                                           f"{kind} {name!r}, container {container_name!r} ({component})"))
    return found


CONFIG_MAP: Final = "kubernetes:core/v1:ConfigMap"
#: The chart's ConfigMap key with the java opts every process reads first.
SITE_JAVA_OPTS: Final = "ALLUXIO_JAVA_OPTS"
#: The java opts of the client processes (rows 4-9), by the component that reads them.
CLIENT_JAVA_OPTS: Final = {"ALLUXIO_FUSE_JAVA_OPTS": FUSE, "ALLUXIO_JOB_WORKER_JAVA_OPTS": JOB_WORKER}


def is_config_map(resource_type: str) -> bool:
    return resource_type == CONFIG_MAP


@per_resource
def rendered_client_configuration(
    resource_type: str, props: Mapping[str, Any], resource_name: str = ""
) -> AlluxioDeployment | None:
    """The client settings in a rendered Alluxio ConfigMap (the chart's ``<fullname>-config``), or None.

    The chart joins ``properties`` and ``jvmOptions`` into one java opts line per process
    (``ALLUXIO_JAVA_OPTS`` for all, ``ALLUXIO_FUSE_JAVA_OPTS`` and ``ALLUXIO_JOB_WORKER_JAVA_OPTS``
    for the clients); its ``-D`` flags are the properties the processes start with, later ones
    winning. Only the client rules (rows 4-9) read this view: resources live in the workloads.
    """
    if not is_config_map(resource_type):
        return None
    data = string_map(props.get("data"))
    if SITE_JAVA_OPTS not in data:
        return None
    top: dict[str, Any] = {"jvmOptions": data[SITE_JAVA_OPTS].split()}
    running: list[str] = []
    for key, component in CLIENT_JAVA_OPTS.items():
        if key in data:
            top[component] = {"jvmOptions": data[key].split()}
            running.append(component)
    return AlluxioDeployment(
        source="ConfigMap",
        root="data",
        top=top,
        namespace=as_text(dig(props, "metadata", "namespace")) or "default",
        name=as_text(dig(props, "metadata", "name")) or resource_name,
        fluid=False,
        running=tuple(running),
        rendered=True,
    )
