"""Hypothesis profiles, loaded by tests/conftest.py.

``ci`` (chosen when CI=true) is derandomised, so that a red run can be reproduced from the log,
has no per-example deadline (the shared CI machine is slow at times) and a bounded number of
examples, so that the suite's run time is bounded too. ``dev`` explores a little more freely.
HYPOTHESIS_PROFILE picks one explicitly.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# Tests that build a Django request per example are slow by Hypothesis's standards; that is
# expected here, not a sign of a bad strategy.
_SLOW_IS_FINE = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=40,
    database=None,
    print_blob=True,
    suppress_health_check=_SLOW_IS_FINE,
)
settings.register_profile("dev", deadline=None, max_examples=40, suppress_health_check=_SLOW_IS_FINE)
# A longer search before a release: HYPOTHESIS_PROFILE=thorough make test
settings.register_profile("thorough", deadline=None, max_examples=1000, suppress_health_check=_SLOW_IS_FINE)


def profile_name() -> str:
    if os.environ.get("HYPOTHESIS_PROFILE"):
        return os.environ["HYPOTHESIS_PROFILE"]
    return "ci" if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes") else "dev"


settings.load_profile(profile_name())
