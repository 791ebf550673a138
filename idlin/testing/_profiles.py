"""Hypothesis profiles shared by idlin's suite and by users' suites.

- `dev`: fast local iteration.
- `ci`: Hypothesis's built-in `ci` profile (derandomized, no database, chosen automatically when
  the `CI` environment variable is set), sized so the whole property suite fits a 2-core CI run.
- `thorough`: ≥ 1000 examples per property, for local or accelerator runs.
Select one with `HYPOTHESIS_PROFILE=name`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

PROFILE_EXAMPLES = {"dev": 10, "ci": 25, "thorough": 1000}
_SUPPRESSED = (HealthCheck.too_slow, HealthCheck.data_too_large)


def register_profiles() -> str:
    """Register `dev`, `ci` and `thorough`, load the one asked for, and return its name."""
    settings.register_profile(
        "dev",
        max_examples=PROFILE_EXAMPLES["dev"],
        deadline=None,
        suppress_health_check=_SUPPRESSED,
    )
    settings.register_profile(
        "ci",
        parent=settings.get_profile("ci"),
        max_examples=PROFILE_EXAMPLES["ci"],
        deadline=None,
        suppress_health_check=_SUPPRESSED,
    )
    settings.register_profile(
        "thorough",
        max_examples=PROFILE_EXAMPLES["thorough"],
        deadline=None,
        suppress_health_check=_SUPPRESSED,
    )
    name = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
    settings.load_profile(name)
    return name
