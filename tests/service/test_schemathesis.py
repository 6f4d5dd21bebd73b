"""Requests generated from the service's own OpenAPI description (schemathesis): whatever they
hold, no 500, and every response (status, media type, body, headers) as the description says.

Bounded: a few hundred requests in all (BCM_FUZZ=1 raises the budget).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from checker.documents import PolicyChange
from checker.service import create_app

from .conftest import TOKEN, settings_for

EXAMPLES_PER_OPERATION = 300 if os.environ.get("BCM_FUZZ") else 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


@pytest.fixture(scope="module")
def api_schema(
    tmp_path_factory: pytest.TempPathFactory, history_records_module: list[dict[str, Any]]
) -> Iterator[Any]:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    app = create_app(settings_for(tmp, check_timeout=30.0))
    service = app.state.service
    service.open_store().import_records(
        [PolicyChange.model_validate(r) for r in history_records_module]
    )
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    service.close()


@pytest.fixture(scope="module")
def history_records_module() -> list[dict[str, Any]]:
    import json

    from .conftest import EXAMPLES

    text = (EXAMPLES / "history.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_generated_requests_get_described_answers(api_schema: Any) -> None:
    # One hypothesis run per operation (schemathesis' pytest plugin does not run on pytest 9).
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def described(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, checks=CHECKS)

        try:
            described()
        except Exception as failure:
            raise AssertionError(f"{operation.label}: {failure}") from failure
