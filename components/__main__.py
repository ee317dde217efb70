"""Entry point of the component package: the Pulumi CLI runs this file to host the components.

The CLI starts the plugin as ``python <checkout>/components`` (``PulumiPlugin.yaml``), which puts
this folder first on ``sys.path``. Its modules would then shadow the standard library (our
``platform.py`` is not ``platform``), so the folder is dropped from the path before anything else
is imported, and the package is imported by its installed name, as every consumer imports it.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]

from pulumi.provider.experimental import component_provider_host  # noqa: E402

from ack_alluxio_training.component_package import COMPONENTS, PACKAGE_NAME, package_version  # noqa: E402

if __name__ == "__main__":
    component_provider_host(COMPONENTS, PACKAGE_NAME, version=package_version())
