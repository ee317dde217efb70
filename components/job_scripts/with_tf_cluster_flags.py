#!/usr/bin/env python3
"""Run tf_cnn_benchmarks as one task of a TFJob: its cluster flags, derived from TF_CONFIG, appended.

The training operator tells each TFJob replica where it stands in the JSON environment variable
TF_CONFIG (every role's host:port list, this replica's role and index); tf_cnn_benchmarks does
not read TF_CONFIG but takes the same facts as ``--job_name``, ``--task_index``, ``--ps_hosts``
and ``--worker_hosts``. Usage inside the pod::

    with_tf_cluster_flags.py python3 tf_cnn_benchmarks.py --variable_update=parameter_server ...

It replaces itself with the command plus those flags, so signals and the exit code are the
benchmark's own. Standard library only: it runs on the training image's Python 3.8.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import Any

#: The roles of a parameter-server TFJob that tf_cnn_benchmarks knows as --job_name values.
ROLES = ("ps", "worker")


class TfConfigError(ValueError):
    """TF_CONFIG is missing or does not describe a parameter-server task."""


def cluster_flags(tf_config: Mapping[str, Any]) -> list[str]:
    """tf_cnn_benchmarks' cluster flags for the task TF_CONFIG describes."""
    cluster = tf_config.get("cluster") or {}
    task = tf_config.get("task") or {}
    role = str(task.get("type", "")).lower()
    if role not in ROLES:
        raise TfConfigError(f"task type {task.get('type')!r} is not one of {ROLES}")
    try:
        index = int(task.get("index", 0))
    except (TypeError, ValueError) as exc:
        raise TfConfigError(f"task index {task.get('index')!r} is not a number") from exc
    flags = [f"--job_name={role}", f"--task_index={index}"]
    for name in ROLES:
        hosts = [str(host) for host in cluster.get(name) or []]
        if name == role and index >= len(hosts):
            raise TfConfigError(f"task {role}:{index} is not in the cluster's {len(hosts)} {role} hosts")
        if hosts:
            flags.append(f"--{name}_hosts={','.join(hosts)}")
    return flags


def command_with_flags(command: Sequence[str], tf_config_text: str | None) -> list[str]:
    """The benchmark command followed by the cluster flags of this replica."""
    if not tf_config_text:
        raise TfConfigError("TF_CONFIG is not set: run this under a TFJob")
    try:
        tf_config = json.loads(tf_config_text)
    except ValueError as exc:
        raise TfConfigError(f"TF_CONFIG is not JSON: {exc}") from exc
    if not isinstance(tf_config, dict):
        raise TfConfigError("TF_CONFIG is not a JSON object")
    return [*command, *cluster_flags(tf_config)]


def main(argv: Sequence[str] | None = None) -> int:
    """Exec the command with the flags; returns only on a usage or TF_CONFIG error."""
    command = list(sys.argv[1:] if argv is None else argv)
    if not command:
        print("usage: with_tf_cluster_flags.py COMMAND...", file=sys.stderr)
        return 2
    try:
        full = command_with_flags(command, os.environ.get("TF_CONFIG"))
    except TfConfigError as exc:
        print(f"with_tf_cluster_flags: {exc}", file=sys.stderr)
        return 2
    print(f"with_tf_cluster_flags: {' '.join(full)}", flush=True)
    os.execvp(full[0], full)
    return 0  # pragma: no cover - execvp does not return


if __name__ == "__main__":
    sys.exit(main())
