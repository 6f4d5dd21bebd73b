"""A real `bcm serve` on loopback: the Python client against it, sixteen clients at once, the
body limit over a real socket, offline docs, and SIGHUP reloading the pack."""

from __future__ import annotations

import re
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from checker.client import ApiError, Client
from checker.documents import Report

from .conftest import TOKEN, Server, start_server, stop_server


def variants(proposals: dict[str, Any]) -> list[dict[str, Any]]:
    """Proposals whose reports differ: the three demos, in two languages' worth of ids and
    with and without a legal basis."""
    out = []
    for _, proposal in sorted(proposals.items()):
        for n, basis in enumerate([[], ["ICRRA Art. 7"], proposal["legal_basis"]]):
            out.append({**proposal, "id": f"{proposal['id']}-{n}", "legal_basis": basis})
    return out


def test_the_client_checks_against_a_real_server(
    served: Server, proposals: dict[str, Any], history_records: list[dict[str, Any]]
) -> None:
    with Client(served.url) as bcm:
        report = bcm.check(proposals["conflict"], history=history_records, lang="ja")
        assert isinstance(report, Report)
        assert report.verdict.value == "conflict"
        assert report.lang == "ja"
        batch = bcm.check_batch(
            [proposals["tension"], proposals["consistent"]], history=history_records
        )
        assert [r.verdict.value for r in batch] == ["tension", "consistent"]
        rule = report.findings[0].rule
        explanation = bcm.explain(proposals["conflict"], rule, history=history_records)
        assert explanation.fired is True
        assert bcm.pack().hash == report.pack.hash


def test_the_client_imports_and_reads_history_with_a_token(
    served: Server, history_records: list[dict[str, Any]], proposals: dict[str, Any]
) -> None:
    # Ids of this test's own: the served store is shared with other tests.
    records = [{**r, "id": f"CLIENT-{r['id']}", "jurisdiction": "KR"} for r in history_records]
    with Client(served.url) as anonymous, pytest.raises(ApiError) as refused:
        anonymous.import_history("KR", records)
    assert refused.value.status == 401
    with Client(served.url, token=TOKEN) as bcm:
        outcome = bcm.import_history("KR", records)
        assert len(outcome.added) == len(records)
        stored = bcm.history("KR", area="entry_stay", effective_from="2010-01-01")
        assert stored and all(r.area.value == "entry_stay" for r in stored)
        assert all(str(r.effective_on) >= "2010-01-01" for r in stored)
        assert bcm.record("KR", records[0]["id"]).record.id == records[0]["id"]
        proposal = {**proposals["conflict"], "jurisdiction": "KR"}
        assert bcm.check(proposal) == bcm.check(proposal, history=records)
        path = bcm.trajectory("KR", "entry_stay", "low_skilled_workers")
        assert [c.id for c in path.changes] == ["CLIENT-JP-2019-SSW", "CLIENT-JP-2024-SSW-CAP"]
        assert bcm.trajectory_svg("KR", "entry_stay", "low_skilled_workers").startswith(b"<?xml")
        assert bcm.reload().changed is False


def test_the_client_lints_rule_text(served: Server) -> None:
    with Client(served.url) as bcm:
        result = bcm.lint({"draft.bcm": "principle legal_integrity {\n  rule r {\n"})
    assert result.ok is False
    assert all(d.file == "draft.bcm" for d in result.diagnostics)


def test_a_refused_request_raises_with_located_diagnostics(
    served: Server, proposals: dict[str, Any]
) -> None:
    with Client(served.url) as bcm, pytest.raises(ApiError) as caught:
        bcm.check({**proposals["tension"], "magnitude": "huge"}, history=[])
    error = caught.value
    assert error.status == 422
    [diagnostic] = error.diagnostics
    assert diagnostic.path == "proposal.magnitude"
    assert diagnostic.code == "D103"
    assert diagnostic.span is not None and diagnostic.span.file == "request"


def test_sixteen_clients_at_once_get_the_reports_of_sequential_calls(
    served: Server, proposals: dict[str, Any], history_records: list[dict[str, Any]]
) -> None:
    work = variants(proposals)
    with Client(served.url) as one:
        sequential = [one.check(p, history=history_records) for p in work]

    def run(offset: int) -> list[Report]:
        # Each client takes the proposals in its own order, so different ones overlap.
        order = work[offset % len(work) :] + work[: offset % len(work)]
        with Client(served.url) as mine:
            reports = {p["id"]: mine.check(p, history=history_records) for p in order}
        return [reports[p["id"]] for p in work]

    with ThreadPoolExecutor(16) as pool:
        concurrent = list(pool.map(run, range(16)))
    for reports in concurrent:
        assert reports == sequential


def test_the_body_limit_holds_over_a_real_socket(served: Server, proposals: dict[str, Any]) -> None:
    big = b'{"proposal": {"id": "' + b"x" * (2 * 1024 * 1024) + b'"}}'

    def pieces() -> Any:
        for start in range(0, len(big), 65536):
            yield big[start : start + 65536]

    for content in (big, pieces()):
        response = httpx.post(
            f"{served.url}/v1/check",
            content=content,
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        assert response.status_code == 413
        assert response.json()["detail"] == "the body is over the limit of 1 MiB"
    # The server is still there for the next request.
    ok = httpx.post(
        f"{served.url}/v1/check", json={"proposal": proposals["consistent"], "history": []}
    )
    assert ok.status_code == 200


def test_the_docs_work_offline(served: Server) -> None:
    page = httpx.get(f"{served.url}/docs")
    assert page.status_code == 200
    assert not re.findall(r"https?://", page.text), "the docs page must not load from elsewhere"
    assets = re.findall(r'(?:src|href)="(/docs/assets/[^"]+)"', page.text)
    assert len(assets) == 3
    for asset in assets:
        response = httpx.get(f"{served.url}{asset}")
        assert response.status_code == 200
        assert len(response.content) > 1000
    description = httpx.get(f"{served.url}/openapi.json").json()
    assert description["openapi"].startswith("3.")
    assert "/v1/check" in description["paths"]
    # Swagger UI offers to send a token for the writes (its "Authorize" button).
    assert description["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    secured = {
        (path, method)
        for path, operations in description["paths"].items()
        for method, operation in operations.items()
        if operation.get("security")
    }
    assert secured == {("/v1/history/{jurisdiction}", "post"), ("/v1/pack/reload", "post")}


def test_sighup_reloads_the_pack_and_refuses_a_broken_one(
    tmp_path: Path, rules_copy: Path, proposals: dict[str, Any]
) -> None:
    server = start_server(tmp_path, rules=rules_copy)
    try:
        url = f"{server.url}/v1/pack"
        first = httpx.get(url).json()
        manifest = rules_copy / "pack.toml"
        manifest.write_text(
            manifest.read_text(encoding="utf-8").replace('version = "1.0.0"', 'version = "2.0.0"'),
            encoding="utf-8",
        )
        server.signal(signal.SIGHUP)
        assert wait_for(lambda: httpx.get(url).json()["version"] == "2.0.0")
        second = httpx.get(url).json()
        assert second["hash"] != first["hash"]

        broken = rules_copy / "human_dignity.bcm"
        broken.write_text(broken.read_text(encoding="utf-8") + "\nrule {\n", encoding="utf-8")
        server.signal(signal.SIGHUP)
        assert wait_for(lambda: "stays in force" in server.log_text())
        assert httpx.get(url).json()["hash"] == second["hash"]
        assert "human_dignity.bcm" in server.log_text()
        check = httpx.post(
            f"{server.url}/v1/check", json={"proposal": proposals["conflict"], "history": []}
        )
        assert check.status_code == 200
        assert check.json()["pack"]["version"] == "2.0.0"
    finally:
        stop_server(server)
    # uvicorn ends by re-raising SIGTERM once it has shut down cleanly.
    assert server.process.returncode in (0, -signal.SIGTERM)
    assert "Finished server process" in server.log_text()


def wait_for(condition: Any, seconds: float = 30) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
