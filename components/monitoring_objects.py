"""PodMonitors (monitoring.coreos.com/v1) for the Alluxio processes and the training pods.

The Prometheus operator and Alibaba Cloud Managed Service for Prometheus both read these. Each
monitor selects pods by the labels chart 0.6.53 really renders (``app``/``release``/``role``) in
the namespace of the releases, and scrapes ports those pods really declare:

- master pod: ``web`` (master, 19999) and ``job-web`` (job master, 20002);
- worker pod: ``web`` (worker, 30000) and ``job-web`` (job worker, 30003);
- FUSE pod: the chart declares no container port, and a PodMonitor ``port``/``portNumber`` keeps
  only targets of declared ports, so the FUSE endpoint names none and sets the target address to
  the pod IP and ``alluxio.fuse.web.port`` (the pod runs on the host network: it is the node's IP);
- training pods (only with ``monitoring.trainingMetricsPort``): the same address rewrite, since the
  job's containers do not declare the port their framework serves metrics on.

Pure: plain values in, manifests out; the component passes its deploy-time values through.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from ack_alluxio_training import alluxio_metrics as am

API_VERSION: Final = "monitoring.coreos.com/v1"
PART_OF: Final = "ack-alluxio-training"
#: ``app.kubernetes.io/component`` of the job pods that run training processes (job_manifests.py):
#: MPIJob/TFJob/PyTorchJob workers, the PyTorchJob master, the TrainJob's nodes, a plain Job's pod.
TRAINING_POD_ROLES: Final = ("worker", "master", "node", "trainer")


def _endpoint(interval: str, *, port: str | None = None, address_port: int | None = None) -> dict[str, Any]:
    endpoint: dict[str, Any] = {"path": am.METRICS_PATH, "interval": interval, "scheme": "http"}
    if port is not None:
        endpoint["port"] = port
    if address_port is not None:
        # A pod that declares no port: point the one port-less target at ip:port (IPv4 pod IPs).
        endpoint["relabelings"] = [
            {
                "sourceLabels": ["__meta_kubernetes_pod_ip"],
                "targetLabel": "__address__",
                "regex": "(.+)",
                "replacement": f"$1:{address_port}",
                "action": "replace",
            }
        ]
    return endpoint


def pod_monitor(
    *,
    name: str,
    namespace: object,
    labels: Mapping[str, str],
    selector: Mapping[str, Any],
    pod_namespace: object,
    endpoints: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """One PodMonitor selecting pods of ``pod_namespace`` (named explicitly: monitors may live elsewhere)."""
    return {
        "apiVersion": API_VERSION,
        "kind": "PodMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/part-of": PART_OF, **labels}},
        "spec": {
            "selector": dict(selector),
            "namespaceSelector": {"matchNames": [pod_namespace]},
            "podMetricsEndpoints": [dict(e) for e in endpoints],
        },
    }


def alluxio_pod_monitors(
    *,
    namespace: object,
    alluxio_namespace: object,
    cache_release: str,
    fuse_release: str,
    interval: str,
    labels: Mapping[str, str],
) -> dict[str, dict[str, Any]]:
    """PodMonitors of the master, worker and FUSE pods, keyed by role (``master``, ``worker``, ``fuse``)."""
    web = [_endpoint(interval, port=am.WEB_PORT_NAME), _endpoint(interval, port=am.JOB_WEB_PORT_NAME)]
    roles = {
        "master": (cache_release, am.MASTER_ROLE, web),
        "worker": (cache_release, am.WORKER_ROLE, web),
        "fuse": (fuse_release, am.FUSE_ROLE, [_endpoint(interval, address_port=am.FUSE_WEB_PORT)]),
    }
    return {
        role: pod_monitor(
            name=f"{release}-{role}" if role != "fuse" else release,
            namespace=namespace,
            labels=labels,
            selector={"matchLabels": am.chart_pod_labels(release, chart_role)},
            pod_namespace=alluxio_namespace,
            endpoints=endpoints,
        )
        for role, (release, chart_role, endpoints) in roles.items()
    }


def training_pod_monitor(
    *, namespace: object, training_namespace: object, port: int, interval: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """A PodMonitor of the training pods' own metrics port (framework or exporter inside the job)."""
    endpoint = _endpoint(interval, address_port=port)
    endpoint["path"] = "/metrics"
    return pod_monitor(
        name="training-jobs",
        namespace=namespace,
        labels=labels,
        selector={
            "matchLabels": {"app.kubernetes.io/part-of": PART_OF},
            "matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": list(TRAINING_POD_ROLES)}
            ],
        },
        pod_namespace=training_namespace,
        endpoints=[endpoint],
    )
