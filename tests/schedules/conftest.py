"""Hypothesis settings for the schedule-layer tests.

The profile is registered here and applied per test (``@settings(settings.get_profile(...))`` in
``sched_cases.PROFILE``) rather than loaded globally, so other test folders keep their own settings.
``SCHEDLAB_SCHEDULE_EXAMPLES`` scales the number of examples (default 40; CI keeps the default,
run e.g. ``SCHEDLAB_SCHEDULE_EXAMPLES=500`` for a deeper local search); under ``CI`` the draws are
derandomized so a CI run is reproducible.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "schedlab-schedules",
    max_examples=int(os.environ.get("SCHEDLAB_SCHEDULE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=bool(os.environ.get("CI")),
)
