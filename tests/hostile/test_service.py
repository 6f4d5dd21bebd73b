"""Hostile HTTP clients against a real `bcm serve` on loopback (see conftest.py).

- Tokens: missing, wrong, in the query string, in odd schemes or sizes: 401 with a problem
  document, and nothing written; tokens are compared as sha256 digests with
  `hmac.compare_digest`, against every accepted one.
- Limits: the body (declared, chunked or lied about), the request head, the batch, the inline
  history, the number of problems reported, the nesting of a body.
- Slow clients: a hundred connections that trickle headers or bodies do not slow the others.
- The watchdog: a check whose worker hangs is a 503 at the time limit, other clients are
  answered meanwhile, and the next check is the engine's again.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from checker import service as service_module

from . import within
from .conftest import MAX_BATCH, MAX_BODY, MAX_HISTORY, TIMEOUT, TOKEN, Served

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "examples/jp/2019-specified-skilled-worker.json").read_text())
HISTORY = [json.loads(line) for line in (ROOT / "examples/jp/history.jsonl").open()]
PROBLEM = "application/problem+json"


def record(n: int, jurisdiction: str = "KR") -> dict[str, Any]:
    return {**HISTORY[0], "id": f"HOSTILE-{jurisdiction}-{n}", "jurisdiction": jurisdiction}


def stored_ids(served: Served, jurisdiction: str) -> set[str]:
    answer = httpx.get(f"{served.url}/v1/history/{jurisdiction}", timeout=30)
    assert answer.status_code == 200, answer.text
    return {r["id"] for r in answer.json()["records"]}


# --- tokens ---------------------------------------------------------------------------------

TOKEN_CASES = [
    pytest.param({}, "", "this request needs a bearer token", id="no token"),
    pytest.param(
        {"authorization": "Bearer not-the-token"},
        "",
        "the bearer token is not accepted",
        id="wrong token",
    ),
    pytest.param(
        {"authorization": f"Bearer {TOKEN}x"},
        "",
        "the bearer token is not accepted",
        id="the token and one more character",
    ),
    pytest.param(
        {"authorization": f"Bearer {TOKEN[:-1]}"},
        "",
        "the bearer token is not accepted",
        id="the token but its last character",
    ),
    pytest.param({}, f"?access_token={TOKEN}", "needs a bearer token", id="in the query"),
    pytest.param({}, f"?token={TOKEN}", "needs a bearer token", id="as ?token="),
    pytest.param({}, f"?api_key={TOKEN}", "needs a bearer token", id="as ?api_key="),
    pytest.param(
        {"authorization": f"Basic {TOKEN}"}, "", "needs a bearer token", id="Basic scheme"
    ),
    pytest.param({"authorization": TOKEN}, "", "needs a bearer token", id="without a scheme"),
    pytest.param({"authorization": "Bearer"}, "", "needs a bearer token", id="scheme only"),
    pytest.param(
        {"x-api-key": TOKEN, "cookie": f"token={TOKEN}"},
        "",
        "needs a bearer token",
        id="in other headers",
    ),
    pytest.param(
        {"authorization": "Bearer " + "x" * 40_000},
        "",
        "the bearer token is not accepted",
        id="40 KB token",
    ),
    pytest.param(
        {"authorization": "Bearer t\u00e9st".encode("latin-1")},
        "",
        "the bearer token is not accepted",
        id="not ASCII",
    ),
]


@pytest.mark.parametrize(("headers", "query", "detail"), TOKEN_CASES)
def test_a_write_without_the_token_in_its_header_is_refused(
    served: Served, headers: dict[str, Any], query: str, detail: str
) -> None:
    jurisdiction = "KR"
    before = stored_ids(served, jurisdiction)
    new = record(len(before) + 1000, jurisdiction)
    answer = httpx.post(
        f"{served.url}/v1/history/{jurisdiction}{query}",
        json={"records": [new]},
        headers=headers,
        timeout=30,
    )
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    assert answer.headers["www-authenticate"].startswith('Bearer realm="bcm"')
    assert detail in answer.json()["detail"]
    assert TOKEN not in answer.text
    assert stored_ids(served, jurisdiction) == before


def test_the_token_in_its_header_writes(served: Served) -> None:
    new = record(1, "DE")
    for scheme in ("Bearer", "bearer"):
        answer = httpx.post(
            f"{served.url}/v1/history/DE",
            json={"records": [new]},
            headers={"authorization": f"{scheme} {TOKEN}"},
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
    assert new["id"] in stored_ids(served, "DE")


def test_a_request_head_over_64_kib_is_refused_and_costs_nothing(served: Served) -> None:
    with socket.create_connection((served.host, served.port), timeout=10) as sock:
        try:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Long: " + b"a" * 200_000)
            sock.sendall(b"\r\n\r\n")
        except OSError:
            pass  # refused while still sending
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 400") or answer == b"", answer[:200]
    assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200


def test_tokens_are_compared_as_digests_in_constant_time() -> None:
    # Timing says nothing about a token: the presented one is hashed first, and its digest is
    # compared with hmac.compare_digest against every accepted digest, never with `==`.
    source = textwrap.dedent(inspect.getsource(service_module.Service.authorize))
    tree = ast.parse(source)
    calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    assert {"hash_token", "hmac.compare_digest"} <= calls
    compares = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.Compare)]
    assert [c for c in compares if "token" in c or "presented" in c or "known" in c] == []
    loop = next(n for n in ast.walk(tree) if isinstance(n, ast.For))
    assert not any(isinstance(n, ast.Break | ast.Return) for n in ast.walk(loop))


# --- limits ---------------------------------------------------------------------------------


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except OSError:
        pass
    return b"".join(chunks)


def _raw_post(served: Served, path: str, head: bytes, body: bytes) -> bytes:
    with socket.create_connection((served.host, served.port), timeout=20) as sock:
        with contextlib.suppress(OSError):  # refused while still sending
            sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\n".encode() + head + b"\r\n" + body)
        return _read_all(sock)


def test_a_body_over_the_limit_is_413_declared_or_not(served: Served) -> None:
    big = json.dumps({"proposal": {**EXAMPLE, "title": "a" * (MAX_BODY + 10)}}).encode()
    declared = _raw_post(
        served,
        "/v1/check",
        b"Content-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n" % len(big),
        big,
    )
    chunked_body = b"".join(
        b"%x\r\n%s\r\n" % (len(big[i : i + 8192]), big[i : i + 8192])
        for i in range(0, len(big), 8192)
    )
    chunked = _raw_post(
        served,
        "/v1/check",
        b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n",
        chunked_body + b"0\r\n\r\n",
    )
    for answer in (declared, chunked):
        assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
        assert b"application/problem+json" in answer
        assert b"the body is over the limit of 64 KiB" in answer


def test_a_body_that_lies_about_its_length_is_a_client_error(served: Served) -> None:
    body = json.dumps({"proposal": EXAMPLE}).encode()
    answer = _raw_post(
        served,
        "/v1/check",
        b"Content-Type: application/json\r\nContent-Length: 20\r\nConnection: close\r\n",
        body,
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert httpx.get(f"{served.url}/healthz", timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "code", "message"),
    [
        pytest.param(
            "/v1/check/batch",
            {"proposals": [EXAMPLE] * (MAX_BATCH + 1)},
            "A011",
            f"{MAX_BATCH + 1} proposals, over the limit of {MAX_BATCH}",
            id="batch",
        ),
        pytest.param(
            "/v1/check",
            {"proposal": EXAMPLE, "history": [record(n) for n in range(MAX_HISTORY + 1)]},
            "A010",
            f"{MAX_HISTORY + 1} history records, over the limit of {MAX_HISTORY}",
            id="inline history",
        ),
        pytest.param(
            "/v1/check",
            {"proposal": {**EXAMPLE, "extensions": {"x": json.loads("[" * 200 + "]" * 200)}}},
            "A014",
            "a value is nested more than 64 levels deep",
            id="nesting",
        ),
        pytest.param(
            "/v1/check",
            {"proposal": EXAMPLE, "history": [{}] * MAX_HISTORY},
            "D012",
            "more than 100 problems: the first 100 are shown",
            id="problems",
        ),
    ],
)
def test_request_limits_are_422_with_located_problems(
    served: Served, path: str, body: dict[str, Any], code: str, message: str
) -> None:
    with within(20, "a request over a limit"):
        answer = httpx.post(f"{served.url}{path}", json=body, timeout=30)
    assert answer.status_code == 422, answer.text[:500]
    assert answer.headers["content-type"].startswith(PROBLEM)
    errors = answer.json()["errors"]
    assert (code, message) in [(e["code"], e["message"]) for e in errors]
    assert len(errors) <= 101
    assert len(answer.content) < 100_000


def test_the_limits_have_the_documented_defaults() -> None:
    settings = service_module.ServiceSettings()
    assert (
        settings.max_body_bytes,
        settings.max_batch,
        settings.max_history_records,
        settings.check_timeout,
        service_module.MAX_HEAD_BYTES,
        service_module.MAX_DEPTH,
        service_module.MAX_EXPONENT,
    ) == (1024 * 1024, 100, 10_000, 10.0, 64 * 1024, 64, 1000)


# --- slow clients ---------------------------------------------------------------------------

SLOW_CLIENTS = 100


@pytest.fixture
def slow_clients(served: Served) -> Iterator[list[socket.socket]]:
    """Half trickle headers, half a body, a few bytes each every half second."""
    sockets = []
    for n in range(SLOW_CLIENTS):
        sock = socket.create_connection((served.host, served.port), timeout=10)
        if n % 2:
            sock.sendall(
                b"POST /v1/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 60000\r\n\r\n{"
            )
        else:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        sockets.append(sock)
    stop = threading.Event()

    def trickle() -> None:
        while not stop.wait(0.5):
            for n, sock in enumerate(sockets):
                with contextlib.suppress(OSError):
                    sock.sendall(b" " if n % 2 else b"X-Slow: 1\r\n")

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        yield sockets
    finally:
        stop.set()
        thread.join(5)
        for sock in sockets:
            sock.close()


def test_slow_clients_do_not_starve_the_others(
    served: Served, slow_clients: list[socket.socket]
) -> None:
    slowest = 0.0
    with httpx.Client(base_url=served.url, timeout=30) as client:
        for _ in range(10):
            for method, path, body in (
                ("POST", "/v1/check", {"proposal": EXAMPLE}),
                ("GET", "/healthz", None),
            ):
                start = time.perf_counter()
                answer = client.request(method, path, json=body)
                slowest = max(slowest, time.perf_counter() - start)
                assert answer.status_code == 200, answer.text
    # measured: 10 ms each with a hundred slow clients on two shared cores
    assert slowest < 3, f"the slowest answer took {slowest:.1f} s"
    # and the slow clients are still connected: they were not simply dropped
    open_ones = 0
    for sock in slow_clients:
        sock.settimeout(0.05)
        try:
            open_ones += sock.recv(1) != b""
        except TimeoutError:
            open_ones += 1
        except OSError:
            pass
    assert open_ones == SLOW_CLIENTS


# --- the watchdog ---------------------------------------------------------------------------


def test_a_runaway_check_is_a_503_at_the_limit_and_others_are_answered(served: Served) -> None:
    hanging = {**EXAMPLE, "extensions": {"bcm_test_fault": "hang"}}
    answers: dict[str, Any] = {}

    def run_hanging() -> None:
        start = time.perf_counter()
        answers["hung"] = httpx.post(
            f"{served.url}/v1/check", json={"proposal": hanging}, timeout=60
        )
        answers["hung_after"] = time.perf_counter() - start

    thread = threading.Thread(target=run_hanging)
    thread.start()
    time.sleep(0.3)
    # meanwhile, another client is answered by the other worker
    with within(TIMEOUT, "a check while another one hangs"):
        other = httpx.post(f"{served.url}/v1/check", json={"proposal": EXAMPLE}, timeout=60)
    thread.join(60)
    assert other.status_code == 200 and other.json()["engine"] == {"name": "durable-rules"}
    hung = answers["hung"]
    assert hung.status_code == 503, hung.text
    assert hung.headers["content-type"].startswith(PROBLEM)
    assert hung.json()["detail"] == f"the check did not finish within the limit of {TIMEOUT:g} s"
    assert hung.headers["retry-after"] == "1"
    assert TIMEOUT - 0.5 < answers["hung_after"] < TIMEOUT + 5
    # the hung worker was stopped and replaced: checks are the engine's again
    with within(60, "the checks after"):
        after = [
            httpx.post(f"{served.url}/v1/check", json={"proposal": EXAMPLE}, timeout=60)
            for _ in range(4)
        ]
    assert [a.json()["engine"] for a in after] == [{"name": "durable-rules"}] * 4
