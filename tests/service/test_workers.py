"""Checks answered by engine workers: a worker is handed the body as it came, reads and
validates it and makes the whole report; the bytes are those the service's own process makes,
a request that is not valid is told as the service tells it, and a worker that dies is still
answered (by the reference evaluator, marked)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import TOKEN, AppFactory

AUTH = {"Authorization": f"Bearer {TOKEN}"}
JSON = {"Content-Type": "application/json"}


def bodies(proposals: dict[str, Any]) -> list[bytes]:
    """Requests whose reports differ: languages, parameters, text beyond ASCII, exact numbers."""
    out = []
    for name, proposal in sorted(proposals.items()):
        out.append(json.dumps({"proposal": proposal}).encode())
        out.append(json.dumps({"proposal": proposal, "lang": "ja"}, ensure_ascii=False).encode())
        out.append(
            json.dumps(
                {"proposal": {**proposal, "legal_basis": []}, "params": {"reversal_window": 900}}
            ).encode()
        )
        out.append(
            b'{"proposal": %s, "params": {"reversal_window": "1000 days"}, "lang": "en"}'
            % json.dumps(
                {**proposal, "title": f"{name} 在留資格", "extensions": {"n": 1.50, "m": 10}},
                ensure_ascii=False,
            ).encode()
        )
    return out


@pytest.fixture
def pair(
    make_client: AppFactory, history_records: list[dict[str, Any]]
) -> Iterator[tuple[TestClient, TestClient]]:
    """The same store behind a service checking in its own process and one with workers."""
    local = make_client()
    assert local.post("/v1/history/JP", json={"records": history_records}, headers=AUTH).is_success
    yield local, make_client(engine_workers=2)


def test_reports_made_by_workers_are_byte_identical(
    pair: tuple[TestClient, TestClient], proposals: dict[str, Any]
) -> None:
    local, pooled = pair
    for body in bodies(proposals) * 2:  # the second round: histories already resident
        expected = local.post("/v1/check", content=body, headers=JSON)
        answer = pooled.post("/v1/check", content=body, headers=JSON)
        assert expected.status_code == 200, expected.text
        assert answer.status_code == 200
        assert answer.content == expected.content
        assert answer.headers["content-type"] == expected.headers["content-type"]
        assert json.loads(answer.content)["engine"] == {"name": "durable-rules"}


def test_problems_are_told_as_the_service_tells_them(
    pair: tuple[TestClient, TestClient], proposals: dict[str, Any]
) -> None:
    # a worker that finds a request not valid says so, and the service says where and why,
    # byte for byte as it does without workers
    local, pooled = pair
    proposal = proposals["conflict"]
    text = json.dumps({"proposal": proposal})
    invalid = [
        json.dumps({"proposal": proposal, "params": params}).encode()
        for params in ({"no_such": 1}, {"reversal_window": "ten days"}, {"reversal_window": "5%"})
    ] + [
        json.dumps({"proposal": {**proposal, "title": None}}).encode(),
        json.dumps({"proposal": {**proposal, "direction": "sideways"}}).encode(),
        json.dumps({"proposal": {**proposal, "jurisdiction": "Japan"}}).encode(),
        json.dumps({"proposal": proposal, "lang": "fr"}).encode(),
        json.dumps({"proposal": proposal, "colour": "blue"}).encode(),
        json.dumps({"proposal": {**proposal, "extensions": {"x": 1e999999}}}).encode(),
        text[:-1].encode() + b', "proposal": {}}',  # a key twice
        text.replace("{", "[", 1).encode(),  # not JSON
        json.dumps({"proposal": proposal}).encode("utf-16"),
    ]
    for body in invalid:
        expected = local.post("/v1/check", content=body, headers=JSON)
        answer = pooled.post("/v1/check", content=body, headers=JSON)
        assert expected.status_code in (400, 422), body
        assert (answer.status_code, answer.content) == (expected.status_code, expected.content)


def test_a_history_added_to_the_store_reaches_the_workers(
    pair: tuple[TestClient, TestClient],
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
) -> None:
    local, pooled = pair
    body = json.dumps({"proposal": proposals["conflict"]}).encode()
    before = pooled.post("/v1/check", content=body, headers=JSON)
    added = {**history_records[-1], "id": "JP-2099-ADDED", "effective_on": "2025-06-01"}
    assert pooled.post("/v1/history/JP", json={"records": [added]}, headers=AUTH).is_success
    after = pooled.post("/v1/check", content=body, headers=JSON)
    assert after.content == local.post("/v1/check", content=body, headers=JSON).content
    assert before.status_code == after.status_code == 200


def test_a_worker_that_dies_is_answered_by_the_reference(
    make_client: AppFactory,
    history_records: list[dict[str, Any]],
    proposals: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BCM_TEST_FAULTS", "1")
    pooled = make_client(engine_workers=1)
    assert pooled.post("/v1/history/JP", json={"records": history_records}, headers=AUTH)
    fault = {**proposals["conflict"], "extensions": {"bcm_test_fault": "kill"}}
    died = pooled.post("/v1/check", json={"proposal": fault})
    assert died.status_code == 200, died.text
    assert died.json()["engine"] == {"name": "reference", "reason": "the worker died (SIGKILL)"}
    clean = {**fault, "extensions": {}}
    again = pooled.post("/v1/check", json={"proposal": clean})
    assert again.json()["engine"] == {"name": "durable-rules"}
    assert died.json()["findings"] == again.json()["findings"]
    assert os.environ["BCM_TEST_FAULTS"] == "1"
