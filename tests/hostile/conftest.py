"""A real `bcm serve` (uvicorn) on 127.0.0.1 and a free port, started as a subprocess, with
small limits so that the tests that pass them stay cheap, two supervised engine workers, and
the fault hook switched on (a proposal can ask its worker to hang)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "hostile-test-token-5d1e07"
MAX_BODY = 64 * 1024
MAX_BATCH = 5
MAX_HISTORY = 50
TIMEOUT = 3.0


@dataclass
class Served:
    url: str
    host: str
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    tmp = tmp_path_factory.mktemp("hostile-serve")
    shutil.copytree(ROOT / "rules", tmp / "rules")
    port = free_port()
    log = tmp / "serve.log"
    environment = {
        **os.environ,
        "BCM_API_TOKENS": TOKEN,
        "BCM_TEST_FAULTS": "1",
        "PYTHONUNBUFFERED": "1",
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
        str(tmp / "rules"),
        "--db",
        f"sqlite:///{tmp / 'hostile.db'}",
        "--workers",
        "2",
        "--timeout",
        str(TIMEOUT),
        "--max-body",
        str(MAX_BODY),
        "--max-batch",
        str(MAX_BATCH),
        "--max-history",
        str(MAX_HISTORY),
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, cwd=tmp, env=environment
        )
    server = Served(f"http://127.0.0.1:{port}", "127.0.0.1", port, log, process)
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"bcm serve exited:\n{server.log_text()}")
            try:
                if httpx.get(f"{server.url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"bcm serve did not become ready:\n{server.log_text()}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
