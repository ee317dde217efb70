"""NetworkPolicies that admit exactly the traffic of the data path, and nothing else.

Pure builders (manifest dicts); ``AlluxioCache``, ``TrainingNamespace`` and ``TrainingJob``
create them. Each namespace starts from a default deny of ingress and egress for every pod, then
opens what a pod needs:

- Alluxio master (pod network): clients reach its RPC and web ports (master 19998/19999, job
  master 20001/20002, chart 0.6.53 defaults). Those clients are the workers and FUSE, which run
  on the host network (row 10), so their source is a node address: the rule names the ports and no
  source. The master itself sends only DNS and the OSS reads of the UFS (HTTPS or HTTP to the
  region's internal endpoint, whose addresses a NetworkPolicy cannot name).
- The one-shot CLI Jobs (dataset mounts, warm-up) talk to the master's RPC ports and DNS only.
- Training pods: all ports between the pods of one job (ssh for the MPI launcher, NCCL and gloo
  pick ports at random) and DNS. The data never crosses the pod network: it is read from the FUSE
  mount through a hostPath. A probe pod also reaches the API server (it patches its result
  ConfigMap), on the ports an API server listens on, and the Pushgateway's port when it pushes its
  result there; with a training metrics port, Prometheus may reach that one port (from wherever it
  runs: the policy names the port, not the scraper).

What NetworkPolicy does not govern: pods with ``hostNetwork: true`` (the Alluxio workers and the
FUSE DaemonSet) use the node's network namespace, so no NetworkPolicy selects or isolates them;
their exposure is the node's security group (SECURITY.md). The policies also need a CNI that
enforces them (on ACK: Terway with NetworkPolicy support; Flannel ignores them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final
from urllib.parse import urlsplit

MASTER_PORTS: Final = (19998, 19999, 20001, 20002)
MASTER_RPC_PORTS: Final = (19998, 20001)
#: OSS over HTTPS and HTTP (the internal endpoint answers both).
OSS_PORTS: Final = (443, 80)
#: Where an API server listens: 443 behind the kubernetes Service, 6443 on ACK's endpoints.
API_SERVER_PORTS: Final = (443, 6443)
DNS_SELECTOR: Final = {
    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
}
#: Labels of chart 0.6.53's master pods.
MASTER_POD_LABELS: Final = {"app": "alluxio", "role": "alluxio-master"}
#: ``app.kubernetes.io/component`` of the cache's CLI Jobs (alluxio_values.mount/warmup_job_manifest).
CLI_JOB_COMPONENTS: Final = ("alluxio-mount", "alluxio-warmup")
PART_OF_LABELS: Final = {"app.kubernetes.io/part-of": "ack-alluxio-training"}


def _ports(numbers: Sequence[int], protocol: str = "TCP") -> list[dict[str, Any]]:
    return [{"protocol": protocol, "port": n} for n in numbers]


def _dns() -> dict[str, Any]:
    return {"to": [dict(DNS_SELECTOR)], "ports": _ports([53], "UDP") + _ports([53], "TCP")}


def _policy(name: str, namespace: object, spec: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(PART_OF_LABELS)},
        "spec": dict(spec),
    }


def default_deny(namespace: object) -> dict[str, Any]:
    """No ingress and no egress for any pod of the namespace unless another policy admits it."""
    return _policy("default-deny", namespace, {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})


def alluxio_master_policy(namespace: object) -> dict[str, Any]:
    """The master's ports open to its (host-network) clients; DNS and OSS out."""
    return _policy(
        "alluxio-master",
        namespace,
        {
            "podSelector": {"matchLabels": dict(MASTER_POD_LABELS)},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"ports": _ports(MASTER_PORTS)}],
            "egress": [_dns(), {"ports": _ports(OSS_PORTS)}],
        },
    )


def alluxio_cli_jobs_policy(namespace: object) -> dict[str, Any]:
    """The mount and warm-up Jobs: the master's RPC ports and DNS, nothing in."""
    return _policy(
        "alluxio-cli-jobs",
        namespace,
        {
            "podSelector": {"matchExpressions": [
                {"key": "app.kubernetes.io/component", "operator": "In", "values": list(CLI_JOB_COMPONENTS)}
            ]},
            "policyTypes": ["Ingress", "Egress"],
            "egress": [
                _dns(),
                {"to": [{"podSelector": {"matchLabels": dict(MASTER_POD_LABELS)}}], "ports": _ports(MASTER_RPC_PORTS)},
            ],
        },
    )


def alluxio_namespace_policies(namespace: object) -> list[dict[str, Any]]:
    """Every NetworkPolicy of the Alluxio namespace."""
    return [default_deny(namespace), alluxio_master_policy(namespace), alluxio_cli_jobs_policy(namespace)]


def url_port(url: str) -> int:
    """The TCP port an http(s) URL connects to (its own, else the scheme's)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL")
    return parts.port or (443 if parts.scheme == "https" else 80)


def training_job_policy(
    namespace: object,
    job_name: str,
    *,
    reaches_api_server: bool,
    pushgateway_url: str | None = None,
    metrics_port: int | None = None,
) -> dict[str, Any]:
    """The pods of one job talk to each other on any port, and resolve names; a probe may call the API
    (and push to its Pushgateway); Prometheus may scrape the training metrics port."""
    same_job = [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": job_name, **PART_OF_LABELS}}}]
    egress: list[dict[str, Any]] = [{"to": same_job}, _dns()]
    if reaches_api_server:
        egress.append({"ports": _ports(API_SERVER_PORTS)})
    if pushgateway_url:
        egress.append({"ports": _ports([url_port(pushgateway_url)])})
    ingress: list[dict[str, Any]] = [{"from": same_job}]
    if metrics_port:
        ingress.append({"ports": _ports([metrics_port])})
    return _policy(
        f"{job_name}-pods",
        namespace,
        {
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": job_name, **PART_OF_LABELS}},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": ingress,
            "egress": egress,
        },
    )
