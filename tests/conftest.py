"""Test-wide settings.

Hypothesis checks properties, not speed: CI runs on a shared 2-core machine where one draw can
stall for a second, so the timing health check and the per-example deadline would fail tests for
reasons that say nothing about the code. Speed is measured in ``make bench`` instead. The
``derandomize`` flag keeps CI reproducible (the same examples every run); locally
``HYPOTHESIS_PROFILE=explore`` draws fresh examples.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
settings.register_profile("explore", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
