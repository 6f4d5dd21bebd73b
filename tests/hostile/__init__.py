"""Hostile input: rule files, documents, checks and HTTP requests made to break bcm.

Every test asserts what a user sees: a diagnostic code and message, an HTTP status and problem
document, a report, and that it came within a time budget. `make test` runs each with a small
budget; `make fuzz` (BCM_FUZZ=1) runs the property tests with many more examples.

Time budgets are generous multiples of what was measured on a shared two-core machine: loose
enough not to flake, tight enough that quadratic work on the inputs used would pass them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

FUZZ = os.environ.get("BCM_FUZZ") == "1"


def examples(quick: int, fuzz: int) -> int:
    """How many hypothesis examples: `quick` in `make test`, `fuzz` in `make fuzz`."""
    return fuzz if FUZZ else quick


@contextmanager
def within(seconds: float, what: str) -> Iterator[None]:
    """Fail when the block takes longer than `seconds` of wall time."""
    start = time.perf_counter()
    yield
    spent = time.perf_counter() - start
    assert spent < seconds, f"{what} took {spent:.1f} s, over its budget of {seconds:g} s"
