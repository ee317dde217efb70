"""Pinned versions: the single place that says which Alluxio and which chart we deploy.

Alluxio 2.9.5 is the last open-source release with an official image; the official chart of
branch-2.9 is 0.6.53. Upgrading means changing this module (and re-checking the property-key
table in ``alluxio_property_keys.py``), nothing else.
"""

from __future__ import annotations

from typing import Final

ALLUXIO_VERSION: Final = "2.9.5"
ALLUXIO_CHART_NAME: Final = "alluxio"
ALLUXIO_CHART_VERSION: Final = "0.6.53"
ALLUXIO_IMAGE: Final = "alluxio/alluxio"
#: The user the official image (and the chart's ``user``/``group``) runs Alluxio as; the cache
#: directory on the host must belong to it.
ALLUXIO_IMAGE_UID: Final = 1000

#: Kubernetes version for clusters this package creates (ACK naming).
ACK_KUBERNETES_VERSION: Final = "1.33.1-aliyun.1"


def alluxio_chart_repository(alluxio_version: str = ALLUXIO_VERSION) -> str:
    """The official chart repository for one Alluxio release (one repository per version)."""
    return f"https://alluxio-charts.storage.googleapis.com/openSource/{alluxio_version}"
