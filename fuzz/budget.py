"""A pytest plugin for `make fuzz`: caps the examples of every hypothesis test.

With BCM_FUZZ=1 the property tests ask for thousands of examples each, which is what a
nightly run wants; `make fuzz` must finish in minutes, so the runner passes
`-p fuzz.budget --fuzz-max-examples=N` and each test runs at most N examples (fewer if it asks
for fewer). Hypothesis reads a test's settings when the test runs, so changing them after
collection takes effect.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--fuzz-max-examples",
        type=int,
        default=None,
        help="at most this many hypothesis examples per test (make fuzz)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    cap = config.getoption("--fuzz-max-examples")
    if cap is None:
        return
    seen: set[int] = set()
    for item in items:
        test: Any = getattr(item, "obj", None)
        current = getattr(test, "_hypothesis_internal_use_settings", None)
        if current is None or id(test) in seen:
            continue
        seen.add(id(test))
        if current.max_examples > cap:
            test._hypothesis_internal_use_settings = settings(current, max_examples=cap)
