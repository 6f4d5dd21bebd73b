"""The history over HTTP: import all-or-nothing (as `bcm history import`), read with filters,
one record with its versions, and the trajectory of a scope as JSON and as a chart."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pytest

from checker.documents import PolicyChange
from checker.store import Store
from checker.trajectory import trajectory

from .conftest import EXAMPLES, TOKEN, AppFactory

AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def loaded(make_client: AppFactory, store_url: str, history_records: list[dict[str, Any]]) -> Any:
    client = make_client(db=store_url)
    response = client.post("/v1/history/JP", json={"records": history_records}, headers=AUTH)
    assert response.status_code == 200, response.text
    return client


def test_an_import_adds_records_then_is_a_no_op(
    make_client: AppFactory, store_url: str, history_records: list[dict[str, Any]]
) -> None:
    client = make_client(db=store_url)
    first = client.post("/v1/history/JP", json={"records": history_records}, headers=AUTH)
    assert first.status_code == 200
    outcome = first.json()
    assert sorted(outcome["added"]) == sorted(r["id"] for r in history_records)
    assert outcome["revision"] == 1
    again = client.post("/v1/history/JP", json={"records": history_records}, headers=AUTH).json()
    assert again == {
        "added": [],
        "replaced": [],
        "unchanged": [r["id"] for r in history_records],
        "revision": 1,
    }


def test_a_bad_record_fails_the_whole_import(
    make_client: AppFactory, store_url: str, history_records: list[dict[str, Any]]
) -> None:
    client = make_client(db=store_url)
    records = [*history_records[:3], {**history_records[3], "direction": "backwards"}]
    del records[1]["status"]
    response = client.post("/v1/history/JP", json={"records": records}, headers=AUTH)
    assert response.status_code == 422
    paths = sorted(e["path"] for e in response.json()["errors"])
    assert paths == ["records[1].status", "records[3].direction"]
    assert client.get("/v1/history/JP").json()["count"] == 0


def test_a_record_of_another_jurisdiction_is_refused(
    make_client: AppFactory, history_records: list[dict[str, Any]]
) -> None:
    client = make_client()
    record = {**history_records[0], "jurisdiction": "KR"}
    response = client.post("/v1/history/JP", json={"records": [record]}, headers=AUTH)
    assert response.status_code == 422
    [problem] = response.json()["errors"]
    assert problem["path"] == "records[0].jurisdiction"
    assert problem["help"] == "post it to /v1/history/KR"


def test_other_content_under_a_stored_id_is_a_409_unless_replacing(
    loaded: Any, history_records: list[dict[str, Any]]
) -> None:
    changed = {**history_records[5], "title": "改題された記録"}
    refused = loaded.post("/v1/history/JP", json={"records": [changed]}, headers=AUTH)
    assert refused.status_code == 409
    [problem] = refused.json()["errors"]
    assert problem["code"] == "H003"
    assert problem["path"] == "records[0]"
    assert "`title`" in problem["message"]
    assert '"replace": true' in problem["help"]
    replaced = loaded.post(
        "/v1/history/JP", json={"records": [changed], "replace": True}, headers=AUTH
    ).json()
    assert replaced["replaced"] == [changed["id"]]
    stored = loaded.get(f"/v1/history/JP/{changed['id']}").json()
    assert stored["record"]["title"] == "改題された記録"
    assert [(v["version"], v["current"]) for v in stored["versions"]] == [(1, False), (2, True)]
    assert stored["versions"][0]["record"]["title"] == history_records[5]["title"]


@pytest.mark.parametrize(
    ("query", "keep"),
    [
        ("", lambda r: True),
        ("?area=entry_stay", lambda r: r["area"] == "entry_stay"),
        ("?target=trainees", lambda r: r["target"] == "trainees"),
        (
            "?from=2010-01-01&to=2019-12-31",
            lambda r: "2010-01-01" <= r["effective_on"] <= "2019-12-31",
        ),
        ("?status=withdrawn", lambda r: r["status"] == "withdrawn"),
    ],
)
def test_the_history_is_read_with_filters_in_date_order(
    loaded: Any, history_records: list[dict[str, Any]], query: str, keep: Any
) -> None:
    page = loaded.get(f"/v1/history/JP{query}").json()
    expected = sorted(
        (r for r in history_records if keep(r)), key=lambda r: (r["effective_on"], r["id"])
    )
    assert [r["id"] for r in page["records"]] == [r["id"] for r in expected]
    assert page["count"] == len(expected)


def test_records_come_back_exactly_as_sent(loaded: Any, history_records: list[Any]) -> None:
    text = loaded.get("/v1/history/JP").text
    page = json.loads(text, parse_float=Decimal)
    by_id = {r["id"]: r for r in page["records"]}
    for sent in history_records:
        assert PolicyChange.model_validate(by_id[sent["id"]]) == PolicyChange.model_validate(sent)
    # Numbers stay numbers, written as in the document (1.36, not "1.36" nor 1.3600000000000001).
    source = (EXAMPLES / "history.jsonl").read_text(encoding="utf-8")
    written = re.findall(r'"value": ?(-?[0-9][0-9.eE+-]*)', source)
    assert written
    for number in written:
        assert f'"value":{number}' in text


def test_a_missing_record_is_a_404(loaded: Any, history_records: list[Any]) -> None:
    response = loaded.get("/v1/history/KR/" + history_records[0]["id"])
    assert response.status_code == 404
    assert response.json()["detail"] == (
        f"the history of `KR` holds no record `{history_records[0]['id']}`"
    )


def test_the_trajectory_is_the_one_the_store_gives(loaded: Any, store_url: str) -> None:
    scope = ("JP", "entry_stay", "low_skilled_workers")
    data = loaded.get("/v1/trajectory/{}/{}/{}".format(*scope)).json()
    with Store(store_url) as store:
        expected = trajectory(store.records(*scope), *scope)
    assert [c["id"] for c in data["changes"]] == [c.record.id for c in expected.changes]
    assert [c["reversal"] for c in data["changes"]] == [c.reversal for c in expected.changes]
    assert [c["level"] for c in data["changes"]] == [float(c.level) for c in expected.changes]
    assert data["elections"] == [d.isoformat() for d in expected.elections]


def test_the_trajectory_chart_is_an_svg_drawn_in_memory(loaded: Any) -> None:
    url = "/v1/trajectory/JP/entry_stay/low_skilled_workers.svg"
    response = loaded.get(url)
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    assert b"<svg" in response.content[:500]
    assert loaded.get(url).content == response.content  # the same chart for the same history
