"""Fixtures for the HTTP API: in-process applications (httpx through TestClient) and a real
`bcm serve` process on loopback, each with a store of its own in a temporary folder.

The store is SQLite always; with BCM_TEST_POSTGRES_URL set, the stateful tests run against that
PostgreSQL server too.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

with warnings.catch_warnings():
    # Starlette suggests another HTTP package for its TestClient; httpx is what we ship.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from checker.service import ServiceSettings, create_app, hash_token
from checker.store import resolve_url

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples" / "jp"
TOKEN = "bcm-test-token-7f3a9c"


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture
def history_records() -> list[dict[str, Any]]:
    """The Japanese example history, fresh for each test (tests may change their copy)."""
    text = (EXAMPLES / "history.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def proposals() -> dict[str, dict[str, Any]]:
    """The three demo proposals, by their expected verdict."""
    found = {}
    for path in sorted((EXAMPLES / "proposals").glob("demo-*.json")):
        found[path.stem.removeprefix("demo-")] = read_json(path)
    return found


def postgres_urls() -> list[str]:
    url = os.environ.get("BCM_TEST_POSTGRES_URL")
    return [url] if url else []


@pytest.fixture(params=["sqlite", *(["postgresql"] if postgres_urls() else [])])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty store: an SQLite file, or a fresh schema-less database on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bcm.db'}"
        return
    yield from _postgres_database(postgres_urls()[0])


def _postgres_database(url: str) -> Iterator[str]:
    import sqlalchemy as sa

    name = f"bcm_service_{uuid.uuid4().hex[:10]}"
    url = resolve_url(url)
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield str(sa.engine.make_url(url).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def settings_for(tmp: Path, **given: Any) -> ServiceSettings:
    given.setdefault("rules", RULES)
    given.setdefault("db", f"sqlite:///{tmp / 'bcm.db'}")
    given.setdefault("token_hashes", frozenset({hash_token(TOKEN)}))
    return ServiceSettings(**given)


@pytest.fixture(scope="session")
def shared_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One application for the tests that change nothing: the default pack, an empty store."""
    tmp = tmp_path_factory.mktemp("shared-service")
    with TestClient(create_app(settings_for(tmp)), raise_server_exceptions=False) as client:
        yield client


AppFactory = Callable[..., TestClient]


@pytest.fixture
def make_client(tmp_path: Path) -> Iterator[AppFactory]:
    """An application with settings of the test's own (and a store of its own)."""
    opened: list[TestClient] = []

    def make(**given: Any) -> TestClient:
        client = TestClient(
            create_app(settings_for(tmp_path, **given)), raise_server_exceptions=False
        )
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """The default pack, copied where a test may change it."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


# --- a real `bcm serve` ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    url: str
    log: Path
    rules: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)


def start_server(
    tmp: Path, *args: str, rules: Path = RULES, env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    log = tmp / f"serve-{port}.log"
    environment = {
        **os.environ,
        "BCM_API_TOKENS": TOKEN,
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    environment.pop("BCM_DATABASE_URL", None)
    command = [
        sys.executable,
        "-m",
        "checker.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--rules",
        str(rules),
        "--db",
        f"sqlite:///{tmp / 'served.db'}",
        *args,
    ]
    with log.open("w", encoding="utf-8") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=tmp,
            env=environment,
            text=True,
        )
    server = Server(process, f"http://127.0.0.1:{port}", log, rules)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bcm serve exited with {process.returncode}:\n{server.log_text()}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError(f"bcm serve did not become ready:\n{server.log_text()}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=5)


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `bcm serve` on 127.0.0.1 with the default pack, shared by the tests that only
    read (and by those that import into its store, each under ids of its own)."""
    tmp = tmp_path_factory.mktemp("served")
    rules = tmp / "rules"
    shutil.copytree(RULES, rules)
    server = start_server(tmp, "--no-access-log", rules=rules)
    yield server
    stop_server(server)


def with_status(record: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**record, **fields}
