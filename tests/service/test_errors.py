"""Every class of bad request gets a problem document (RFC 9457) with the JSON path, code and
message of each problem: 400 for a body that is not JSON, 413 over the size limit, 415 for
another media type, 422 for JSON that is not valid. Never a 500."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import EXAMPLES, read_json

JSON = {"Content-Type": "application/json"}


@dataclass
class Case:
    note: str
    body: Any  # bytes as sent, or a value to send as JSON (built from the demo proposal)
    status: int
    kind: str
    # (path, code, a fragment of the message) for each problem expected among `errors`
    problems: list[tuple[str | None, str, str]] = field(default_factory=list)
    url: str = "/v1/check"
    headers: dict[str, str] = field(default_factory=lambda: dict(JSON))


def proposal_with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = out
        for part in parents:
            target = target[part]
        if value is REMOVE:
            target.pop(last)
        else:
            target[last] = value
    return out


REMOVE = object()


def nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"k": [value]}
    return value


def cases(p: dict[str, Any], record: dict[str, Any]) -> list[Case]:
    return [
        Case(
            "a body cut short",
            b'{"proposal": ',
            400,
            "malformed",
            [(None, "D002", "broken JSON: expecting value")],
        ),
        Case(
            "a key given twice",
            b'{"proposal": {}, "proposal": {}}',
            400,
            "malformed",
            [(None, "D003", "the key `proposal` appears twice")],
        ),
        Case("NaN is not JSON", b'{"proposal": NaN}', 400, "malformed", [(None, "D002", "NaN")]),
        Case(
            "bytes that are not UTF-8",
            b'{"proposal": "\xff"}',
            400,
            "malformed",
            [(None, "D007", "not UTF-8")],
        ),
        Case("an empty body", b"", 400, "malformed", [(None, "D009", "the body is empty")]),
        Case(
            "JSON nested deeper than any document",
            b"[" * 100_000 + b"]" * 100_000,
            400,
            "malformed",
            [(None, "D002", "nested too deeply")],
        ),
        Case(
            "a body of another media type",
            b"{}",
            415,
            "unsupported-media-type",
            headers={"Content-Type": "text/plain"},
        ),
        Case("no Content-Type at all", b"{}", 415, "unsupported-media-type", headers={}),
        Case(
            "JSON in a charset other than UTF-8",
            b"{}",
            415,
            "unsupported-media-type",
            headers={"Content-Type": "application/json; charset=iso-8859-1"},
        ),
        Case("a list, not an object", [p], 422, "invalid", [("(body)", "D010", "found a list")]),
        Case("no proposal", {}, 422, "invalid", [("proposal", "D101", "`proposal`")]),
        Case(
            "a misspelt field of the request",
            {"proposal": p, "histroy": []},
            422,
            "invalid",
            [("histroy", "D102", "unknown field `histroy`")],
        ),
        Case(
            "an enum value that does not exist",
            {"proposal": proposal_with(p, direction="sideways")},
            422,
            "invalid",
            [("proposal.direction", "D103", '"sideways" is not a valid value for `direction`')],
        ),
        Case(
            "a number written as text, deep in the document",
            {
                "proposal": proposal_with(
                    record, rationale__evidence=[{"indicator": "x", "value": "1.6"}]
                )
            },
            422,
            "invalid",
            [("proposal.rationale.evidence[0].value", "D106", "expected a number")],
        ),
        Case(
            "a jurisdiction written in Japanese",
            {"proposal": proposal_with(p, jurisdiction="日本")},
            422,
            "invalid",
            [("proposal.jurisdiction", "D105", '"日本" is not an ISO 3166-1 alpha-2 code')],
        ),
        Case(
            "a date that is not a calendar date",
            {"proposal": proposal_with(p, effective_on="2026-02-30")},
            422,
            "invalid",
            [("proposal.effective_on", "D104", "is not a calendar date")],
        ),
        Case(
            "a figure too large to compute with (it would hold a thread for minutes)",
            json.dumps({"proposal": proposal_with(p, impact__expected_inflow=0)})
            .replace('"expected_inflow": 0', '"expected_inflow": 1e999999999')
            .encode(),
            422,
            "invalid",
            [("proposal.impact.expected_inflow", "A013", "`1E+999999999` is out of range")],
        ),
        Case(
            "a parameter too large to compute with",
            {"proposal": p, "params": {"reversal_window": "1e99999999 days"}},
            422,
            "invalid",
            [("params.reversal_window", "A013", "is out of range")],
        ),
        Case(
            "extensions nested deeper than the model and the engine go",
            {"proposal": proposal_with(p, extensions=nested(300))},
            422,
            "invalid",
            [("proposal.extensions" + ".k[0]" * 31 + ".k", "A014", "more than 64 levels deep")],
        ),
        Case(
            "a history record without status",
            {"proposal": p, "history": [proposal_with(record, status=REMOVE)]},
            422,
            "invalid",
            [("history[0].status", "D101", "missing required field `status`")],
        ),
        Case(
            "two history records with one id and different content",
            {"proposal": p, "history": [record, proposal_with(record, title="another")]},
            422,
            "invalid",
            [("history[1].id", "D107", f"share the id `{record['id']}`")],
        ),
        Case(
            "problems in the proposal and the history, all reported at once",
            {
                "proposal": proposal_with(p, area="borders"),
                "history": [proposal_with(record, magnitude="huge")],
            },
            422,
            "invalid",
            [
                ("proposal.area", "D103", '"borders"'),
                ("history[0].magnitude", "D103", '"huge"'),
            ],
        ),
        Case(
            "an unknown parameter",
            {"proposal": p, "params": {"reversal_windw": "1000 days"}},
            422,
            "invalid",
            [("params.reversal_windw", "P010", "unknown parameter `reversal_windw`")],
        ),
        Case(
            "a parameter in the wrong unit",
            {"proposal": p, "params": {"reversal_window": "10%"}},
            422,
            "invalid",
            [("params.reversal_window", "P011", "declared in days")],
        ),
        Case(
            "a language the pack does not speak",
            {"proposal": p, "lang": "fr"},
            422,
            "invalid",
            [("lang", "D106", "'en' or 'ja'")],
        ),
        Case(
            "a rule the pack does not have",
            {"proposal": p, "rule": "oscilation"},
            422,
            "invalid",
            [("rule", "P012", "the pack has no rule `oscilation`")],
            url="/v1/explain",
        ),
        Case(
            "the second proposal of a batch is wrong",
            {"proposals": [p, proposal_with(p, area="borders")]},
            422,
            "invalid",
            [("proposals[1].area", "D103", '"borders"')],
            url="/v1/check/batch",
        ),
        Case(
            "an empty batch",
            {"proposals": []},
            422,
            "invalid",
            [("proposals", "D106", "at least 1")],
            url="/v1/check/batch",
        ),
        Case(
            "a rule file name that is a path",
            {"files": {"../outside.bcm": "principle x {}"}},
            422,
            "invalid",
            [("files.../outside.bcm", "D106", "not a valid key")],
            url="/v1/pack/lint",
        ),
    ]


PROPOSAL = read_json(EXAMPLES / "proposals" / "demo-consistent.json")
RECORD = json.loads((EXAMPLES / "history.jsonl").read_text(encoding="utf-8").splitlines()[0])
CASES = cases(PROPOSAL, RECORD)


@pytest.mark.parametrize("case", CASES, ids=[c.note for c in CASES])
def test_bad_request_gets_a_located_problem(case: Case, shared_client: TestClient) -> None:
    body = case.body if isinstance(case.body, bytes) else json.dumps(case.body).encode()
    response = shared_client.post(case.url, content=body, headers=case.headers)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == f"urn:bcm:problem:{case.kind}"
    assert problem["status"] == case.status
    assert problem["instance"] == case.url
    found = [(e["path"], e["code"], e["message"]) for e in problem["errors"]]
    for path, code, fragment in case.problems:
        assert any(p == path and c == code and fragment in m for p, c, m in found), (
            f"{(path, code, fragment)} not among {found}"
        )
    for item in problem["errors"]:
        assert {"path", "message", "code", "help"} <= item.keys()


def test_a_problem_says_where_in_the_body_it_is(
    shared_client: TestClient, proposals: dict[str, Any]
) -> None:
    body = {"proposal": {**proposals["consistent"], "magnitude": "majr"}}
    text = json.dumps(body, indent=2, ensure_ascii=False)
    response = shared_client.post("/v1/check", content=text.encode(), headers=JSON)
    [item] = response.json()["errors"]
    line = next(n for n, t in enumerate(text.splitlines(), 1) if '"majr"' in t)
    assert (item["file"], item["line"]) == ("request", line)
    assert text.splitlines()[line - 1][item["column"] - 1 :].startswith('"majr"')
    assert item["help"].startswith("did you mean")


def test_a_problem_names_the_nearest_field(
    shared_client: TestClient, proposals: dict[str, Any]
) -> None:
    proposal = dict(proposals["consistent"])
    proposal["efective_on"] = proposal.pop("effective_on")
    response = shared_client.post("/v1/check", json={"proposal": proposal})
    problems = {e["path"]: e for e in response.json()["errors"]}
    assert problems["proposal.efective_on"]["help"] == "did you mean `effective_on`?"
    assert problems["proposal.effective_on"]["message"] == "missing required field `effective_on`"


@pytest.mark.parametrize(
    ("method", "url", "status", "detail"),
    [
        ("GET", "/v1/nothing-here", 404, "Not Found"),
        ("GET", "/v1/check", 405, "Method Not Allowed"),
    ],
)
def test_unknown_routes_and_methods_are_problems_too(
    shared_client: TestClient, method: str, url: str, status: int, detail: str
) -> None:
    response = shared_client.request(method, url)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"] == detail


@pytest.mark.parametrize(
    ("url", "path", "fragment"),
    [
        ("/v1/history/jp", "path.jurisdiction", "String should match pattern"),
        ("/v1/history/JP?from=yesterday", "query.from", "valid date"),
        ("/v1/history/JP?area=borders", "query.area", "'border_control'"),
        ("/v1/trajectory/JP/borders/trainees", "path.area", "'entry_stay'"),
    ],
)
def test_bad_path_and_query_parameters_are_located(
    shared_client: TestClient, url: str, path: str, fragment: str
) -> None:
    response = shared_client.get(url)
    assert response.status_code == 422
    [item] = response.json()["errors"]
    assert item["path"] == path
    assert fragment in item["message"]


def test_the_body_limit_holds_while_reading_whatever_the_length_claims(
    make_client: Any, proposals: dict[str, Any]
) -> None:
    client = make_client(max_body_bytes=10_000)
    padded = json.dumps({"proposal": proposals["consistent"], "params": {}}).encode()
    big = padded[:-2] + b" " * 20_000 + b"}}"

    def chunks() -> Any:
        # No Content-Length: the body arrives in pieces and only counting them can stop it.
        for start in range(0, len(big), 4096):
            yield big[start : start + 4096]

    for content in (big, chunks()):
        response = client.post("/v1/check", content=content, headers=JSON)
        assert response.status_code == 413
        assert response.json()["detail"] == "the body is over the limit of 10000 bytes"
    under = client.post("/v1/check", content=padded, headers=JSON)
    assert under.status_code == 200


def test_an_unexpected_failure_is_a_500_with_an_incident_in_the_log(
    make_client: Any,
    proposals: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client()
    service = client.app.state.service  # type: ignore[attr-defined]

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setattr(service.pack, "check", broken)
    response = client.post("/v1/check", json={"proposal": proposals["consistent"], "history": []})
    assert response.status_code == 500
    problem = response.json()
    incident = problem["incident"]
    assert len(incident) == 16
    assert incident in problem["detail"]
    assert any(incident in r.getMessage() and r.exc_info for r in caplog.records)
    assert "a bug" not in response.text  # the cause stays in the log


@pytest.mark.parametrize("url", ["/v1/check", "/v1/check/batch", "/v1/explain", "/v1/pack/lint"])
@pytest.mark.parametrize("body", [b"5", b"-0.5", b'"text"', b"true", b"null"])
def test_a_body_that_is_a_bare_value_is_a_problem_not_a_500(
    url: str, body: bytes, shared_client: TestClient
) -> None:
    # Found by the atheris harness fuzz/service_bodies.py: a bare number failed the depth check.
    response = shared_client.post(url, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    [item] = response.json()["errors"]
    assert (item["path"], item["code"]) == ("(body)", "D010"), item
    assert item["message"] == "expected a JSON object, found a single value"
