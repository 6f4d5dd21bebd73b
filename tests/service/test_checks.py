"""Checks over HTTP give what the Python API gives: the same reports, byte for byte in content,
against the history sent or the stored history of the proposal's jurisdiction."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from checker.api import History, Pack, load_pack
from checker.documents import PolicyChange
from checker.service import STORE_RECHECK_SECONDS
from checker.store import Store

from .conftest import RULES, TOKEN, AppFactory

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack(RULES)


@pytest.mark.parametrize("name", ["conflict", "tension", "consistent"])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_check_reports_what_the_python_api_reports(
    name: str,
    lang: str,
    shared_client: TestClient,
    pack: Pack,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
) -> None:
    proposal = proposals[name]
    response = shared_client.post(
        "/v1/check", json={"proposal": proposal, "history": history_records, "lang": lang}
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    expected = pack.check(proposal, history_records, lang=lang).to_dict()
    assert response.json() == expected
    assert response.json()["verdict"] == name


def test_messages_come_in_japanese_when_asked(
    shared_client: TestClient, proposals: dict[str, Any], history_records: list[dict[str, Any]]
) -> None:
    body = {"proposal": proposals["conflict"], "history": history_records, "lang": "ja"}
    report = shared_client.post("/v1/check", json=body).json()
    assert report["lang"] == "ja"
    assert any("法" in f["message"] or "選挙" in f["message"] for f in report["findings"])


def test_parameters_are_overridden_for_one_check(
    shared_client: TestClient, proposals: dict[str, Any], history_records: list[dict[str, Any]]
) -> None:
    body = {
        "proposal": proposals["conflict"],
        "history": history_records,
        "params": {"reversal_window": "10 days"},
    }
    report = shared_client.post("/v1/check", json=body).json()
    assert report["params"]["reversal_window"] == "10 days"
    plain = shared_client.post(
        "/v1/check", json={"proposal": proposals["conflict"], "history": history_records}
    ).json()
    assert plain["params"]["reversal_window"] != "10 days"


def test_without_history_the_stored_history_of_the_jurisdiction_is_used(
    make_client: AppFactory,
    pack: Pack,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
) -> None:
    client = make_client()
    proposal = proposals["conflict"]
    empty = client.post("/v1/check", json={"proposal": proposal}).json()
    expected = pack.check(proposal, []).to_dict()
    # `engine` names a history key when the engine falls back; the findings must agree.
    assert empty["findings"] == expected["findings"]
    imported = client.post("/v1/history/JP", json={"records": history_records}, headers=AUTH)
    assert imported.status_code == 200, imported.text
    stored = client.post("/v1/check", json={"proposal": proposal}).json()
    assert stored == pack.check(proposal, history_records).to_dict()
    assert stored != empty  # the stored history made a difference (a reversal, here)


def test_a_batch_gives_one_report_per_proposal_in_order(
    shared_client: TestClient,
    pack: Pack,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
) -> None:
    batch = [proposals["tension"], proposals["conflict"], proposals["consistent"]]
    response = shared_client.post(
        "/v1/check/batch", json={"proposals": batch, "history": history_records}
    )
    assert response.status_code == 200, response.text
    history = History(history_records)
    assert response.json() == [pack.check(p, history).to_dict() for p in batch]


def test_an_explanation_says_which_conditions_held(
    shared_client: TestClient,
    pack: Pack,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
) -> None:
    proposal = proposals["conflict"]
    fired = pack.check(proposal, history_records).findings[0].rule
    response = shared_client.post(
        "/v1/explain",
        json={"proposal": proposal, "rule": fired, "history": history_records, "lang": "ja"},
    )
    assert response.status_code == 200, response.text
    explanation = response.json()
    assert explanation["rule"] == fired
    assert explanation["fired"] is True
    assert explanation["when"]["held"] is True
    local = pack.explain(proposal, fired, history_records)
    assert explanation["text"] == local.render("ja")


@pytest.mark.parametrize(
    ("setting", "body_of", "status", "kind", "path"),
    [
        (
            {"max_batch": 2},
            lambda p, h: {"proposals": [p, p, p]},
            422,
            "batch-too-large",
            "proposals",
        ),
        (
            {"max_history_records": 5},
            lambda p, h: {"proposal": p, "history": h},
            422,
            "too-many-records",
            "history",
        ),
    ],
    ids=["batch over the limit", "history over the limit"],
)
def test_limits_are_answered_with_a_clear_problem(
    make_client: AppFactory,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
    setting: dict[str, Any],
    body_of: Any,
    status: int,
    kind: str,
    path: str,
) -> None:
    client = make_client(**setting)
    url = "/v1/check/batch" if "proposals" in body_of({}, []) else "/v1/check"
    response = client.post(url, json=body_of(proposals["conflict"], history_records))
    assert response.status_code == status
    problem = response.json()
    assert problem["type"] == f"urn:bcm:problem:{kind}"
    assert [e["path"] for e in problem["errors"]] == [path]
    assert "limit" in problem["errors"][0]["message"]


def test_a_check_over_the_time_limit_is_a_503_not_a_hang(
    make_client: AppFactory,
    proposals: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = make_client(check_timeout=0.5)
    service = client.app.state.service  # type: ignore[attr-defined]
    release = threading.Event()
    real_check = service.pack.check

    def slow(*args: Any, **kwargs: Any) -> Any:
        release.wait(10)
        return real_check(*args, **kwargs)

    monkeypatch.setattr(service.pack, "check", slow)
    started = time.monotonic()
    response = client.post("/v1/check", json={"proposal": proposals["consistent"], "history": []})
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert response.json()["detail"] == "the check did not finish within the limit of 0.5 s"
    release.set()
    monkeypatch.setattr(service.pack, "check", real_check)
    again = client.post("/v1/check", json={"proposal": proposals["consistent"], "history": []})
    assert again.status_code == 200


def test_an_unreachable_store_is_a_503_and_inline_history_still_works(
    make_client: AppFactory, proposals: dict[str, Any], tmp_path: Any
) -> None:
    # A folder where the database file should be: SQLite cannot open it.
    (tmp_path / "not-a-db").mkdir()
    client = make_client(db=f"sqlite:///{tmp_path / 'not-a-db'}")
    stored = client.post("/v1/check", json={"proposal": proposals["consistent"]})
    assert stored.status_code == 503
    assert stored.json()["type"] == "urn:bcm:problem:store-unavailable"
    inline = client.post("/v1/check", json={"proposal": proposals["consistent"], "history": []})
    assert inline.status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert "store" in ready.json()["detail"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_records_imported_by_another_process_are_seen_within_a_second(
    make_client: AppFactory,
    pack: Pack,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
    tmp_path: Any,
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    client = make_client(db=url)
    proposal = proposals["conflict"]
    before = client.post("/v1/check", json={"proposal": proposal}).json()
    with Store(url) as other:  # as `bcm history import` would, beside the service
        other.import_records([PolicyChange.model_validate(r) for r in history_records])
    time.sleep(STORE_RECHECK_SECONDS + 0.1)
    after = client.post("/v1/check", json={"proposal": proposal}).json()
    assert after["findings"] != before["findings"]
    assert after == pack.check(proposal, history_records).to_dict()


def test_an_empty_history_sent_is_used_not_the_stored_one(
    make_client: AppFactory,
    pack: Pack,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
) -> None:
    client = make_client()
    client.post("/v1/history/JP", json={"records": history_records}, headers=AUTH)
    proposal = proposals["conflict"]
    expected = pack.check(proposal, []).to_dict()
    one = client.post("/v1/check", json={"proposal": proposal, "history": []}).json()
    batch = client.post("/v1/check/batch", json={"proposals": [proposal], "history": []}).json()
    assert one["findings"] == expected["findings"]
    assert [r["findings"] for r in batch] == [expected["findings"]]
