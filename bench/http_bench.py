"""Requests per second and p50/p99 latency of POST /v1/check against a real `bcm serve`, at
concurrency 1, 8 and 32, side by side with the in-process `pack.check` rate of the same run.

    .venv/bin/python bench/http_bench.py [--workers N] [--seconds S] [--json FILE]

The service runs on 127.0.0.1 with the default pack and the Japanese example history in a
store of its own (a temporary folder); the proposals are the three demo proposals, checked
against that stored history, as a drafting tool would. The load comes from httpx clients in
separate processes (so the generator does not share the server's interpreter), each keeping
its connections open. Every level is bounded in time and in requests, and the server is
stopped at the end whatever happens.

Goals on the project's machine (2 cores): p99 under 20 ms at concurrency 8, and at least
1,000 checks/s at concurrency 32.
"""

from __future__ import annotations

import argparse
import asyncio
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
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples" / "jp"
TOKEN = "bench-token"
LEVELS = (1, 8, 32)
MAX_REQUESTS_PER_LEVEL = 200_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(workdir: Path, workers: int) -> tuple[subprocess.Popen[bytes], str]:
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
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"bcm serve exited:\n{(workdir / 'serve.log').read_text()}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return process, url
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


# --- the load generator (runs in child processes) ---------------------------------------------


async def _drive(
    url: str, bodies: list[bytes], connections: int, seconds: float, limit: int
) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

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


def _generator(args: tuple[str, list[bytes], int, float, int]) -> tuple[list[float], int]:
    url, bodies, connections, seconds, limit = args
    return asyncio.run(_drive(url, bodies, connections, seconds, limit))


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (the engine workers), from /proc (Linux)."""
    total = 0.0
    pids = [pid]
    for children in Path(f"/proc/{pid}/task").glob("*/children"):
        pids.extend(int(p) for p in children.read_text().split())
    for one in pids:
        try:
            fields = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def measure(
    url: str,
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
    cpu_before = cpu_seconds(server_pid) if server_pid else 0.0
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_generator, [(url, bodies, c, seconds, limit) for c in shares])
    wall = time.perf_counter() - started
    cpu = cpu_seconds(server_pid) - cpu_before if server_pid else 0.0
    latencies = sorted(x for part, _ in results for x in part)
    errors = sum(e for _, e in results)
    count = len(latencies)
    # The wall time includes starting the generator processes; the rate uses the busy time.
    busy = min(wall, seconds) if count < MAX_REQUESTS_PER_LEVEL else wall
    return {
        "concurrency": concurrency,
        "requests": count,
        "errors": errors,
        "per_second": count / busy if busy else 0.0,
        "p50_ms": 1000 * statistics.quantiles(latencies, n=100)[49] if count > 1 else None,
        "p99_ms": 1000 * statistics.quantiles(latencies, n=100)[98] if count > 1 else None,
        "server_cpu_ms": 1000 * cpu / (count + errors) if count + errors else None,
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
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            pack.check(documents[count % len(documents)], stored)
            count += 1
        elapsed = time.perf_counter() - started
    return {"per_second": count / elapsed, "checks": count, "engine": engine}


def serve_and_measure(
    workers: int,
    history: list[dict[str, Any]],
    bodies: list[bytes],
    seconds: float,
    generators: int,
) -> dict[str, Any]:
    """The figures of one `bcm serve --workers N`, or why there are none."""
    with tempfile.TemporaryDirectory(prefix="bcm-http-bench-") as tmp:
        process, url = start_server(Path(tmp), workers)
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
            measure(url, bodies, 4, 2.0, generators)  # warm up workers and connections
            levels = [measure(url, bodies, c, seconds, generators, process.pid) for c in LEVELS]
        finally:
            stop_server(process)
    return {"workers": workers, "engine": engine, "levels": levels}


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
        "--generators", type=int, default=2, help="load generator processes (default 2)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)

    history, proposals = load_examples()
    bodies = [json.dumps({"proposal": p}, ensure_ascii=False).encode() for p in proposals]
    runs = [
        serve_and_measure(int(n), history, bodies, args.seconds, args.generators)
        for n in args.workers.split(",")
    ]
    local = in_process_rate(history, proposals, args.seconds)

    print(
        f"POST /v1/check from {args.generators} httpx load generator processes; stored history "
        f"of {len(history)} records; {len(proposals)} proposals in turn"
    )
    print(
        f"{'bcm serve':>12}  {'concurrency':>11}  {'requests':>8}  {'checks/s':>9}  "
        f"{'p50 ms':>7}  {'p99 ms':>7}  {'errors':>6}  {'cpu ms':>6}  engine"
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
                f"{level['errors']:>6}  {level['server_cpu_ms']:>6.2f}  {run['engine']['name']}"
            )
    print(
        f"{'in process':>12}  {'pack.check':>11}  {local['checks']:>8}  "
        f"{local['per_second']:>9.0f}  {'':>7}  {'':>7}  {'':>6}  "
        f"{1000 / local['per_second']:>6.2f}  {local['engine']}"
    )
    print("cpu ms: the server's CPU time (its engine workers included) per request")
    for run in runs:
        if "failed" in run:
            continue
        at8 = next(level for level in run["levels"] if level["concurrency"] == 8)
        at32 = next(level for level in run["levels"] if level["concurrency"] == 32)
        latency_met = "met" if at8["p99_ms"] < 20 else "not met"
        rate_met = "met" if at32["per_second"] >= 1000 else "not met"
        print(
            f"goals, --workers {run['workers']}: p99 at 8 = {at8['p99_ms']:.1f} ms "
            f"(< 20: {latency_met}); at 32 = {at32['per_second']:.0f} checks/s "
            f"(>= 1000: {rate_met})"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps({"runs": runs, "in_process": local}, indent=2) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
