"""Requests per second and p50/p99 latency of POST /v1/check against a real `bcm serve`, at
concurrency 1, 8 and 32, side by side with the in-process `pack.check` rate of the same run.

    .venv/bin/python bench/http_bench.py [--workers N,M] [--seconds S] [--client raw|httpx]
                                         [--generators G] [--stages] [--json FILE]

The service runs on 127.0.0.1 with the default pack and the Japanese example history in a
store of its own (a temporary folder); the proposals are the three demo proposals, checked
against that stored history, as a drafting tool would. The load comes from separate processes
(so the generator does not share the server's interpreter), each keeping its connections open
(HTTP/1.1 keep-alive). The default generator is a raw asyncio client sending pre-encoded
requests, so that it takes as little as possible of the cores it shares with the server;
`--client httpx` uses httpx instead. Every level is bounded in time and in requests, and the
server is stopped at the end whatever happens.

Besides rates and latencies it prints the CPU time per request of the server (its engine
workers included) and of the load generator, the machine's load average, and with `--stages`
the server's CPU per request by stage, measured in this process.

Goals on the project's machine (2 cores, shared by the server and the load generator): p99
under 20 ms at concurrency 8, and at least 1,000 checks/s at concurrency 32.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "jp"
TOKEN = "bench-token"
LEVELS = (1, 8, 32)
MAX_REQUESTS_PER_LEVEL = 200_000
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def start_server(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (workdir / "serve.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "checker.cli",
            "serve",
            "--port",
            str(port),
            "--rules",
            str(ROOT / "rules"),
            "--db",
            f"sqlite:///{workdir / 'bench.db'}",
            "--workers",
            str(workers),
            "--no-access-log",
        ],
        cwd=workdir,
        env={**os.environ, "BCM_API_TOKENS": TOKEN},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bcm serve exited:\n{(workdir / 'serve.log').read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, port
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("bcm serve did not become ready in 120 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_examples() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    history = [
        json.loads(line)
        for line in (EXAMPLES / "history.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    proposals = [
        json.loads(p.read_text(encoding="utf-8"))
        for p in sorted((EXAMPLES / "proposals").glob("demo-*.json"))
    ]
    return history, proposals


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- the load generators (they run in child processes) ----------------------------------------


class _Connection(asyncio.Protocol):
    """One keep-alive connection sending pre-encoded requests, one at a time, and reading each
    answer by its Content-Length (the service always sends one)."""

    def __init__(
        self,
        requests: list[bytes],
        offset: int,
        deadline: float,
        limit: int,
        latencies: list[float],
        errors: list[bytes],
        done: asyncio.Future[None],
    ):
        self.requests = requests
        self.n = offset
        self.deadline = deadline
        self.limit = limit
        self.latencies = latencies
        self.errors = errors
        self.done = done
        self.buffer = b""
        self.started = 0.0
        self.transport: Any = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's is no asyncio.Transport
        self._send()

    def _send(self) -> None:
        self.started = time.perf_counter()
        self.transport.write(self.requests[self.n % len(self.requests)])
        self.n += 1

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buffer[:end].lower()
        at = head.find(b"\r\ncontent-length:")
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else None]) if at >= 0 else 0
        if len(self.buffer) < end + 4 + length:
            return
        now = time.perf_counter()
        status = self.buffer[9:12]
        self.buffer = self.buffer[end + 4 + length :]
        if status == b"200":
            self.latencies.append(now - self.started)
        else:
            self.errors.append(status)
        if now < self.deadline and len(self.latencies) < self.limit:
            self._send()
        else:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def _drive_raw(
    port: int, bodies: list[bytes], connections: int, seconds: float, limit: int
) -> tuple[list[float], int]:
    loop = asyncio.get_running_loop()
    requests = [
        (
            f"POST /v1/check HTTP/1.1\r\nHost: {HOST}:{port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        + body
        for body in bodies
    ]
    latencies: list[float] = []
    errors: list[bytes] = []
    deadline = time.perf_counter() + seconds
    done: list[asyncio.Future[None]] = []
    for i in range(connections):
        future: asyncio.Future[None] = loop.create_future()
        done.append(future)

        def protocol(i: int = i, future: asyncio.Future[None] = future) -> _Connection:
            return _Connection(requests, i, deadline, limit, latencies, errors, future)

        await loop.create_connection(protocol, HOST, port)
    await asyncio.gather(*done)
    return latencies, len(errors)


async def _drive_httpx(
    port: int, bodies: list[bytes], connections: int, seconds: float, limit: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=f"http://{HOST}:{port}", limits=limits, timeout=30
    ) as client:

        async def one_connection(offset: int) -> None:
            nonlocal errors
            n = offset
            while time.perf_counter() < deadline and len(latencies) < limit:
                body = bodies[n % len(bodies)]
                n += 1
                started = time.perf_counter()
                response = await client.post(
                    "/v1/check", content=body, headers={"Content-Type": "application/json"}
                )
                elapsed = time.perf_counter() - started
                if response.status_code == 200:
                    latencies.append(elapsed)
                else:
                    errors += 1

        await asyncio.gather(*(one_connection(i) for i in range(connections)))
    return latencies, errors


def _generator(
    args: tuple[str, int, list[bytes], int, float, int],
) -> tuple[list[float], int, float]:
    """One generator process: its latencies, errors and its own CPU seconds while driving."""
    client, port, bodies, connections, seconds, limit = args
    drive = _drive_raw if client == "raw" else _drive_httpx
    try:
        import uvloop

        run: Callable[[Any], Any] = uvloop.run
    except ImportError:
        run = asyncio.run
    cpu = time.process_time()
    latencies, errors = run(drive(port, bodies, connections, seconds, limit))
    return latencies, errors, time.process_time() - cpu


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and all its descendants (the engine workers are children of a
    fork server, itself a child of the service), from /proc (Linux)."""
    total = 0.0
    pids = [pid]
    for parent in pids:  # grows while it is walked: every generation
        for children in Path(f"/proc/{parent}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                pids.extend(int(p) for p in children.read_text().split())
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(
    client: str,
    port: int,
    bodies: list[bytes],
    concurrency: int,
    seconds: float,
    processes: int,
    server_pid: int | None = None,
) -> dict[str, Any]:
    processes = max(1, min(processes, concurrency))
    shares = [
        concurrency // processes + (1 if i < concurrency % processes else 0)
        for i in range(processes)
    ]
    limit = MAX_REQUESTS_PER_LEVEL // processes
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes) as pool:
        pool.map(abs, range(processes))  # the generators are started before the clock runs
        load_before = load()
        cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
        started = time.perf_counter()
        results = pool.map(
            _generator, [(client, port, bodies, c, seconds, limit) for c in shares], chunksize=1
        )
        wall = time.perf_counter() - started
        cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    latencies = sorted(x for part, _, _ in results for x in part)
    errors = sum(e for _, e, _ in results)
    generator_cpu = sum(c for _, _, c in results)
    count = len(latencies)
    answered = count + errors
    quantiles = statistics.quantiles(latencies, n=100) if count > 1 else None
    return {
        "concurrency": concurrency,
        "requests": count,
        "errors": errors,
        "per_second": count / wall if wall else 0.0,
        "p50_ms": 1000 * quantiles[49] if quantiles else None,
        "p99_ms": 1000 * quantiles[98] if quantiles else None,
        "server_cpu_ms": 1000 * cpu / answered if answered else None,
        "generator_cpu_ms": 1000 * generator_cpu / answered if answered else None,
        "load": f"{load_before} -> {load()}",
    }


def in_process_rate(
    history: list[dict[str, Any]], proposals: list[dict[str, Any]], seconds: float
) -> dict[str, Any]:
    from checker.api import History, load_pack
    from checker.documents import PolicyChange

    with load_pack(ROOT / "rules") as pack:
        stored = History(history)
        documents = [PolicyChange.model_validate(p) for p in proposals]
        engine = pack.check(documents[0], stored).engine.name
        count = 0
        cpu = time.process_time()
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            pack.check(documents[count % len(documents)], stored)
            count += 1
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return {
        "per_second": count / elapsed,
        "checks": count,
        "cpu_ms": 1000 * cpu / count,
        "engine": engine,
    }


def serve_and_measure(
    workers: int,
    history: list[dict[str, Any]],
    bodies: list[bytes],
    seconds: float,
    generators: int,
    client: str,
) -> dict[str, Any]:
    """The figures of one `bcm serve --workers N`, or why there are none."""
    with tempfile.TemporaryDirectory(prefix="bcm-http-bench-") as tmp:
        process, port = start_server(Path(tmp), workers)
        url = f"http://{HOST}:{port}"
        try:
            imported = httpx.post(
                f"{url}/v1/history/JP",
                json={"records": history},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=60,
            )
            imported.raise_for_status()
            first = httpx.post(
                f"{url}/v1/check",
                content=bodies[0],
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            if first.status_code != 200:
                problem = first.json()
                return {
                    "workers": workers,
                    "failed": f"{first.status_code} {problem.get('detail')}",
                }
            engine = first.json()["engine"]
            measure(client, port, bodies, 4, 2.0, generators)  # warm up workers, connections
            levels = [
                measure(client, port, bodies, c, seconds, generators, process.pid) for c in LEVELS
            ]
        finally:
            stop_server(process)
    return {"workers": workers, "engine": engine, "levels": levels}


# --- the server's CPU per request, by stage (in this process) --------------------------------


def stages(
    history: list[dict[str, Any]], bodies: list[bytes], rounds: int
) -> list[tuple[str, float]]:
    """CPU milliseconds per /v1/check request of each stage of the service, in this process
    with the engine in process: the whole ASGI application (routing, body, check, response),
    and the parts of the check it runs in a check thread."""
    from checker import service as svc
    from checker.documents import PolicyChange
    from checker.semantics import to_fact
    from checker.store import Store

    with tempfile.TemporaryDirectory(prefix="bcm-http-stages-") as tmp:
        db = f"sqlite:///{Path(tmp) / 'stages.db'}"
        with Store(db) as store:
            store.import_records([PolicyChange.model_validate(r) for r in history])
        app = svc.create_app(svc.ServiceSettings(rules=ROOT / "rules", db=db))
        service: svc.Service = app.state.service
        try:
            return _stages(app, service, bodies, rounds, to_fact)
        finally:
            service.close()


def _stages(
    app: Any, service: Any, bodies: list[bytes], rounds: int, to_fact: Any
) -> list[tuple[str, float]]:
    from checker import service as svc

    def per_call(work: Callable[[int], object]) -> float:
        for i in range(min(rounds, 20)):
            work(i)
        cpu = time.process_time()
        for i in range(rounds):
            work(i)
        return 1000 * (time.process_time() - cpu) / rounds

    async def asgi(body: bytes) -> int:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/v1/check",
            "raw_path": b"/v1/check",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"bench"),
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": (HOST, 1),
            "server": (HOST, 2),
        }
        status = 0
        given = False

        async def receive() -> dict[str, Any]:
            nonlocal given
            if not given:
                given = True
                return {"type": "http.request", "body": body, "more_body": False}
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await app(scope, receive, send)
        return status

    async def whole(n: int) -> float:
        for i in range(min(n, 20)):
            assert await asgi(bodies[i % len(bodies)]) == 200
        cpu = time.process_time()
        for i in range(n):
            await asgi(bodies[i % len(bodies)])
        return 1000 * (time.process_time() - cpu) / n

    total = asyncio.run(whole(rounds))
    pack = service.pack
    parsed = [svc.parse_json(b) for b in bodies]
    requests = [svc.validate_body(p, svc.CheckRequest) for p in parsed]
    history = service.stored_history(requests[0].proposal.jurisdiction)
    facts = [to_fact(r.proposal) for r in requests]
    params = {n: s.value for n, s in pack.settings({}, "JP").items()}
    reports = [pack.check(r.proposal, history) for r in requests]
    encode = getattr(svc, "report_json", None) or (lambda r: svc.JSONResponse(r.to_dict()).body)
    n = len(bodies)
    rows = [
        ("JSON parse (exact numbers, limits)", per_call(lambda i: svc.parse_json(bodies[i % n]))),
        (
            "validation (pydantic)",
            per_call(lambda i: svc.validate_body(parsed[i % n], svc.CheckRequest)),
        ),
        (
            "  engine (pack runner)",
            per_call(
                lambda i: pack._runner.check(facts[i % n], history.key, history.facts, params)
            ),
        ),
        (
            "pack.check (facts, engine, findings)",
            per_call(lambda i: pack.check(requests[i % n].proposal, history)),
        ),
        ("report to JSON", per_call(lambda i: encode(reports[i % n]))),
    ]
    parts = rows[0][1] + rows[1][1] + rows[3][1] + rows[4][1]
    rows.append(("routing, body, thread hand-off, response", total - parts))
    rows.append(("the ASGI application, in all", total))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--workers",
        default=f"0,{os.cpu_count() or 2}",
        help="engine worker processes of bcm serve, one run per value "
        "(default: 0 and one per core)",
    )
    parser.add_argument("--seconds", type=float, default=8.0, help="time per level (default 8)")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="the load generator: raw asyncio keep-alive HTTP/1.1 (default) or httpx",
    )
    parser.add_argument(
        "--generators", type=int, default=1, help="load generator processes (default 1)"
    )
    parser.add_argument(
        "--stages", action="store_true", help="also the server's CPU per request by stage"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    history, proposals = load_examples()
    bodies = [json.dumps({"proposal": p}, ensure_ascii=False).encode() for p in proposals]
    runs = [
        serve_and_measure(int(n), history, bodies, args.seconds, args.generators, args.client)
        for n in args.workers.split(",")
    ]
    local = in_process_rate(history, proposals, args.seconds)
    split = stages(history, bodies, 600) if args.stages else []

    print(
        f"POST /v1/check from {args.generators} {args.client} load generator process(es) on "
        f"{os.cpu_count()} cores; stored history of {len(history)} records; "
        f"{len(proposals)} proposals in turn"
    )
    print(
        f"{'bcm serve':>12}  {'concurrency':>11}  {'requests':>8}  {'checks/s':>9}  "
        f"{'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}  {'server':>6}  {'client':>6}  "
        f"load average (1, 5, 15 min)"
    )
    for run in runs:
        label = f"--workers {run['workers']}"
        if "failed" in run:
            print(f"{label:>12}  not measured: the first check answered {run['failed']}")
            continue
        for level in run["levels"]:
            print(
                f"{label:>12}  {level['concurrency']:>11}  {level['requests']:>8}  "
                f"{level['per_second']:>9.0f}  {level['p50_ms']:>7.2f}  {level['p99_ms']:>7.2f}  "
                f"{level['errors']:>6}  {level['server_cpu_ms']:>6.2f}  "
                f"{level['generator_cpu_ms']:>6.2f}  {level['load']}"
            )
    print(
        f"{'in process':>12}  {'pack.check':>11}  {local['checks']:>8}  "
        f"{local['per_second']:>9.0f}  {'':>7}  {'':>7}  {'':>6}  "
        f"{local['cpu_ms']:>6.2f}  {'':>6}  engine: {local['engine']}"
    )
    print(
        "server, client: CPU ms per request of bcm serve (engine workers included) and of the "
        "load generator"
    )
    if split:
        print("the server's CPU per request by stage (in process, engine in process):")
        for name, ms in split:
            print(f"  {name:<42} {ms:6.3f} ms")
    for run in runs:
        if "failed" in run:
            continue
        at8 = next(level for level in run["levels"] if level["concurrency"] == 8)
        at32 = next(level for level in run["levels"] if level["concurrency"] == 32)
        cores = os.cpu_count() or 1
        spent = at32["server_cpu_ms"] + at32["generator_cpu_ms"]
        print(
            f"at most, --workers {run['workers']}: {cores * 1000 / spent:.0f} checks/s on "
            f"{cores} idle cores ({at32['server_cpu_ms']:.2f} ms server + "
            f"{at32['generator_cpu_ms']:.2f} ms generator CPU per request at 32)"
        )
        latency_met = "met" if at8["p99_ms"] < 20 else "not met"
        rate_met = "met" if at32["per_second"] >= 1000 else "not met"
        print(
            f"goals, --workers {run['workers']}: p99 at 8 = {at8['p99_ms']:.1f} ms "
            f"(< 20: {latency_met}); at 32 = {at32['per_second']:.0f} checks/s "
            f"(>= 1000: {rate_met})"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"runs": runs, "in_process": local, "stages": dict(split)}, indent=2) + "\n",
            encoding="utf-8",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
