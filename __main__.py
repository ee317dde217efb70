"""The Pulumi program: validated settings -> the training platform -> stack outputs.

Settings are validated before any resource is registered, so bad config changes nothing.
"""

from ack_alluxio_training.platform import TrainingPlatform, export_platform_outputs
from ack_alluxio_training.settings import load_settings

settings = load_settings()
platform = TrainingPlatform("training", settings)
export_platform_outputs(platform)
