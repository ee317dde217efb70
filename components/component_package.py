"""The components as a Pulumi component package, for TypeScript, Go, C#, Java and YAML programs.

``PulumiPlugin.yaml`` (runtime python) makes ``components/`` a source-based plugin: the Pulumi
CLI runs ``__main__.py``, which hosts these classes with
``pulumi.provider.experimental.component_provider_host``; the CLI then asks for the schema and
generates an SDK for the consumer's language (``pulumi package add <checkout>/components``).

The schema is inferred from the args TypedDicts and the class-level ``pulumi.Output`` annotations;
the docstring under each field is its description. ``TrainingPlatform`` is not served: its input
is the validated settings model, which only Python programs build (other languages compose these
components listed here). ``python -m ack_alluxio_training.component_package --write FILE`` writes the
schema (the snapshot in tests/snapshots/schema.json is refreshed with ``make schema``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Final

import pulumi
from pulumi.provider.experimental.component import ComponentProvider

import ack_alluxio_training
from ack_alluxio_training.alluxio_cache import AlluxioCache
from ack_alluxio_training.alluxio_fuse import AlluxioFuse
from ack_alluxio_training.dataset_bucket import DatasetBucket
from ack_alluxio_training.monitoring import AlluxioMonitoring
from ack_alluxio_training.node_pool import GpuNodePool
from ack_alluxio_training.settings import PROJECT
from ack_alluxio_training.training_job import TrainingJob
from ack_alluxio_training.training_namespace import TrainingNamespace

PACKAGE_NAME: Final = PROJECT
COMPONENTS: Final[list[type[pulumi.ComponentResource]]] = [
    GpuNodePool,
    DatasetBucket,
    AlluxioCache,
    AlluxioFuse,
    TrainingJob,
    TrainingNamespace,
    AlluxioMonitoring,
]


def package_version() -> str:
    """The one version of this project: the installed distribution's (pyproject.toml's)."""
    return ack_alluxio_training.__version__


def schema() -> dict[str, Any]:
    """The package schema exactly as the plugin serves it (pulumi's own analyzer, offline)."""
    provider = ComponentProvider(COMPONENTS, PACKAGE_NAME, version=package_version())
    document: dict[str, Any] = json.loads(provider.schema or "{}")
    return document


def schema_text() -> str:
    """The schema as the snapshot file holds it: sorted keys, two-space indent, final newline."""
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ack_alluxio_training.component_package", description=__doc__)
    parser.add_argument("--write", type=Path, help="write the schema to this file (else print it)")
    args = parser.parse_args(argv)
    text = schema_text()
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
