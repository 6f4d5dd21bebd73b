"""Writes need a bearer token (from BCM_API_TOKENS or a file of sha256 hashes); checks are open
unless configured otherwise; no endpoint reads or writes outside its store and rule folder."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest

from checker.diagnostics import BcmError
from checker.service import ServiceSettings, hash_token, read_token_file

from .conftest import TOKEN, AppFactory


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("headers", "error"),
    [
        ({}, None),
        ({"Authorization": TOKEN}, None),  # no scheme
        ({"Authorization": f"Basic {TOKEN}"}, None),
        (bearer(TOKEN[:-1] + "x"), "invalid_token"),
        (bearer(""), None),
    ],
    ids=["no header", "no scheme", "basic", "one character off", "empty"],
)
def test_a_write_without_a_good_token_is_401(
    make_client: AppFactory,
    history_records: list[dict[str, Any]],
    headers: dict[str, str],
    error: str | None,
) -> None:
    client = make_client()
    response = client.post("/v1/history/JP", json={"records": history_records[:1]}, headers=headers)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="bcm"')
    assert (f'error="{error}"' in challenge) == (error is not None)
    assert client.get("/v1/history/JP").json()["count"] == 0  # nothing was written


def test_the_right_token_writes(make_client: AppFactory, history_records: list[Any]) -> None:
    client = make_client()
    response = client.post(
        "/v1/history/JP", json={"records": history_records[:2]}, headers=bearer(TOKEN)
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["added"]) == 2


def test_without_configured_tokens_nothing_can_be_written(
    make_client: AppFactory, history_records: list[Any]
) -> None:
    client = make_client(token_hashes=frozenset())
    response = client.post(
        "/v1/history/JP", json={"records": history_records[:1]}, headers=bearer(TOKEN)
    )
    assert response.status_code == 401
    assert client.post("/v1/pack/reload", headers=bearer(TOKEN)).status_code == 401


def test_checks_are_open_by_default_and_can_require_a_token(
    make_client: AppFactory, proposals: dict[str, Any]
) -> None:
    body = {"proposal": proposals["consistent"], "history": []}
    open_service = make_client()
    assert open_service.post("/v1/check", json=body).status_code == 200
    closed = make_client(require_token_for_checks=True)
    for url, payload in [
        ("/v1/check", body),
        ("/v1/check/batch", {"proposals": [proposals["consistent"]], "history": []}),
        ("/v1/explain", {**body, "rule": "legal_basis_required"}),
        ("/v1/pack/lint", {"files": {"x.bcm": ""}}),
    ]:
        assert closed.post(url, json=payload).status_code == 401, url
        assert closed.post(url, json=payload, headers=bearer(TOKEN)).status_code == 200, url


def test_tokens_come_from_the_environment_and_a_file_of_hashes(
    tmp_path: Path, make_client: AppFactory, history_records: list[Any]
) -> None:
    token_file = tmp_path / "tokens"
    from_file = "token-from-file"
    token_file.write_text(
        "# operators' tokens, hashed\n"
        f"{hashlib.sha256(from_file.encode()).hexdigest()}  # alice\n"
        "\n"
        f"sha256:{hash_token('second')}\n",
        encoding="utf-8",
    )
    settings = ServiceSettings.from_environment(
        {"BCM_API_TOKENS": "env-one, env-two"}, token_file=token_file
    )
    assert settings.token_hashes == {hash_token("env-one"), hash_token("env-two")}
    client = make_client(token_hashes=settings.token_hashes, token_file=token_file)
    for n, token in enumerate(["env-one", "env-two", from_file, "second"]):
        response = client.post(
            "/v1/history/JP", json={"records": history_records[n : n + 1]}, headers=bearer(token)
        )
        assert response.status_code == 200, token
    assert client.post("/v1/pack/reload", headers=bearer("env-three")).status_code == 401


def test_a_token_file_with_a_plain_token_is_refused_with_its_line(tmp_path: Path) -> None:
    token_file = tmp_path / "tokens"
    token_file.write_text(f"{hash_token('a')}\nmy-plain-token\n", encoding="utf-8")
    with pytest.raises(BcmError) as caught:
        read_token_file(token_file)
    [problem] = caught.value.diagnostics
    assert problem.code == "A002"
    assert problem.message == f"line 2 of the token file `{token_file}` is not a sha256 digest"
    assert "sha256sum" in (problem.help or "")
    assert problem.span is None  # no source frame that would print the token in a log


def test_no_endpoint_touches_files_outside_its_store_and_rules(
    tmp_path: Path,
    make_client: AppFactory,
    rules_copy: Path,
    proposals: dict[str, Any],
    history_records: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    store = tmp_path / "store"
    store.mkdir()
    client = make_client(rules=rules_copy, db=f"sqlite:///{store / 'bcm.db'}")

    def snapshot(folder: Path) -> dict[str, tuple[int, float]]:
        return {
            str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime)
            for p in folder.rglob("*")
        }

    rules_before = snapshot(rules_copy)
    proposal = proposals["conflict"]
    hostile = "../../../../etc/passwd"
    requests: list[tuple[str, str, Any]] = [
        ("POST", "/v1/history/JP", {"records": history_records}),
        ("POST", "/v1/check", {"proposal": proposal}),
        ("POST", "/v1/check/batch", {"proposals": [proposal]}),
        ("POST", "/v1/explain", {"proposal": proposal, "rule": "legal_basis_required"}),
        ("POST", "/v1/pack/lint", {"files": {"x.bcm": "principle legal_integrity {}"}}),
        ("POST", "/v1/pack/lint", {"files": {hostile: ""}}),
        ("POST", "/v1/pack/reload", None),
        ("GET", "/v1/pack", None),
        ("GET", f"/v1/history/JP/{hostile.replace('/', '%2F')}", None),
        ("GET", "/v1/history/JP?target=../../x", None),
        ("GET", "/v1/trajectory/JP/entry_stay/low_skilled_workers", None),
        ("GET", "/v1/trajectory/JP/entry_stay/low_skilled_workers.svg?lang=ja", None),
        ("GET", "/docs", None),
        ("GET", "/docs/assets/..%2F..%2F..%2Fservice.py", None),
    ]
    for method, url, body in requests:
        response = client.request(method, url, json=body, headers=bearer(TOKEN))
        assert response.status_code < 500, (url, response.text)
    assert sorted(os.listdir(workdir)) == []
    assert snapshot(rules_copy) == rules_before
    assert {p.name for p in store.iterdir()} <= {"bcm.db", "bcm.db-wal", "bcm.db-shm"}
