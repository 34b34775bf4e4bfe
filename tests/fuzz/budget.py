"""How long each fuzz target runs: `fuzz(examples)` is its Hypothesis settings.

CI runs every target for its `examples` (the whole directory in about two minutes on two
cores), derandomized so a run is reproducible. `HYPOTHESIS_PROFILE=fuzz-long` runs
`LONG_FACTOR` times as many, with fresh randomness each time:

    HYPOTHESIS_PROFILE=fuzz-long .venv/bin/pytest -q tests/fuzz

A failure prints the smallest input found and `@reproduce_failure`; keep it as an
`@example` on the target once fixed.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

__all__ = ["LONG", "fuzz"]

LONG_FACTOR = 25
LONG = os.environ.get("HYPOTHESIS_PROFILE") == "fuzz-long"
_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "fuzz",
    deadline=None,
    database=None,
    derandomize=_CI,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile("fuzz-long", settings.get_profile("fuzz"), derandomize=False)


def fuzz(examples: int) -> settings:
    """The settings of a target that runs `examples` examples in CI."""
    profile = settings.get_profile("fuzz-long" if LONG else "fuzz")
    return settings(profile, max_examples=examples * (LONG_FACTOR if LONG else 1))
