"""The pack over HTTP: what is loaded, rule text linted in memory, and reloading (over HTTP and
on SIGHUP) that refuses a pack with errors and keeps the one in force."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from checker.api import load_pack

from .conftest import RULES, TOKEN, AppFactory

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def test_the_pack_description_names_everything_loaded(shared_client: TestClient) -> None:
    pack = load_pack(RULES)
    described = shared_client.get("/v1/pack").json()
    assert (described["name"], described["version"], described["hash"]) == (
        pack.info.name,
        pack.info.version,
        pack.info.hash,
    )
    assert [p["id"] for p in described["principles"]] == list(pack.checked.principles)
    legal = next(p for p in described["principles"] if p["id"] == "legal_integrity")
    assert legal["titles"] == {"en": "Legal integrity", "ja": "法的整合性"}
    assert "legal_basis_required" in legal["rules"]
    assert [r["id"] for r in described["rules"]] == [r.id for r in pack.checked.rules]
    transition = next(p for p in described["parameters"] if p["name"] == "min_transition_days")
    assert transition == {
        "name": "min_transition_days",
        "value": "180 days",
        "amount": "180",
        "unit": "days",
        "principle": "legal_integrity",
        "overrides": {},
    }


@pytest.mark.parametrize(
    ("files", "ok", "expected"),
    [
        (
            {"mine.bcm": 'principle legal_integrity {\n  title en "Mine"\n}\n'},
            True,
            [],
        ),
        (
            {"mine.bcm": "principle legal_integrity {\n  rule r {\n    when proposal.x\n"},
            False,
            [("mine.bcm", "error")],
        ),
    ],
    ids=["a clean file", "a broken file"],
)
def test_lint_checks_rule_text_in_memory(
    shared_client: TestClient, files: dict[str, str], ok: bool, expected: list[Any]
) -> None:
    result = shared_client.post("/v1/pack/lint", json={"files": files}).json()
    assert result["ok"] is ok
    assert result["errors"] == sum(1 for d in result["diagnostics"] if d["level"] == "error")
    for file, level in expected:
        assert any(
            d["file"] == file and d["level"] == level and d["line"] for d in result["diagnostics"]
        )


def test_lint_with_the_loaded_pack_reports_only_the_files_sent(shared_client: TestClient) -> None:
    text = (RULES / "legal_integrity.bcm").read_text(encoding="utf-8")
    broken = text.replace("proposal.legal_basis is empty", "proposal.legal_bassis is empty", 1)
    result = shared_client.post(
        "/v1/pack/lint",
        json={"files": {"legal_integrity.bcm": broken}, "with_loaded_pack": True},
    ).json()
    assert result["ok"] is False
    assert {d["file"] for d in result["diagnostics"]} == {"legal_integrity.bcm"}
    [error] = [d for d in result["diagnostics"] if d["level"] == "error"]
    assert "legal_bassis" in error["message"]
    assert error["help"] == "did you mean `legal_basis`?"
    clean = shared_client.post(
        "/v1/pack/lint", json={"files": {"legal_integrity.bcm": text}, "with_loaded_pack": True}
    ).json()
    assert clean["errors"] == 0


def test_reload_puts_a_changed_pack_in_force(
    make_client: AppFactory, rules_copy: Path, proposals: dict[str, Any]
) -> None:
    client = make_client(rules=rules_copy)
    before = client.get("/v1/pack").json()
    manifest = rules_copy / "pack.toml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace('version = "1.0.0"', 'version = "1.0.1"'),
        encoding="utf-8",
    )
    response = client.post("/v1/pack/reload", headers=AUTH)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["changed"] is True
    assert result["previous"]["hash"] == before["hash"]
    assert result["pack"]["version"] == "1.0.1"
    report = client.post("/v1/check", json={"proposal": proposals["tension"], "history": []})
    assert report.json()["pack"] == result["pack"]


def test_a_pack_with_errors_is_refused_and_the_old_one_stays(
    make_client: AppFactory, rules_copy: Path, proposals: dict[str, Any]
) -> None:
    client = make_client(rules=rules_copy)
    before = client.get("/v1/pack").json()
    rule_file = rules_copy / "legal_integrity.bcm"
    rule_file.write_text(
        rule_file.read_text(encoding="utf-8").replace("kind conflict", "kind conflcit", 1),
        encoding="utf-8",
    )
    response = client.post("/v1/pack/reload", headers=AUTH)
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "urn:bcm:problem:pack-refused"
    assert problem["detail"].endswith(
        f"{before['name']} 1.0.0 ({before['hash'][:19]}) stays in force"
    )
    [error] = problem["errors"]
    assert error["file"] == str(rule_file)
    assert "conflcit" in error["message"]
    assert client.get("/v1/pack").json()["hash"] == before["hash"]
    report = client.post("/v1/check", json={"proposal": proposals["conflict"], "history": []})
    assert report.status_code == 200
    assert report.json()["pack"]["hash"] == before["hash"]
