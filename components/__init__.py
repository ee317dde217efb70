"""Pulumi ComponentResources and the pure tuning logic they share with the policy pack."""

from importlib.metadata import PackageNotFoundError, version

try:
    #: The one version of the project (pyproject.toml); the policy pack and the schema carry it too.
    __version__ = version("ack-alluxio-training")
except PackageNotFoundError:  # a checkout on sys.path that was never installed
    __version__ = "0.0.0"
