"""`make fuzz`: every fuzzing part of bcm, each for a bounded time, with what each took.

    python fuzz/run.py                      # all parts, under ten minutes on two cores
    python fuzz/run.py --parts atheris --seconds 600
    python fuzz/run.py --parts slow hostile --max-examples 5000

Parts, in order:
  slow          the slow property suites of tests/ (BCM_FUZZ=1), at most --max-examples each
  hostile       tests/hostile with its BCM_FUZZ=1 budgets, capped the same way
  schemathesis  requests generated from the service's OpenAPI description, 300 per operation
  atheris       the coverage-guided harnesses of this folder, side by side, --seconds each

An atheris finding (a crash, a timeout past --input-timeout seconds or memory past 2 GB) is
saved under fuzz/findings/; replay one with `python fuzz/<harness>.py fuzz/findings/<file>`.
The corpus each harness grows is kept between runs in ~/.cache/bcm/fuzz/<harness>/.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FUZZ = ROOT / "fuzz"
FINDINGS = FUZZ / "findings"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "bcm" / "fuzz"
PARTS = ("slow", "hostile", "schemathesis", "atheris")


def pytest(*args: str, max_examples: int | None) -> list[str]:
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "fuzz.budget"]
    if max_examples is not None:
        command.append(f"--fuzz-max-examples={max_examples}")
    return [*command, *args]


# --- seeds for the harnesses ----------------------------------------------------------------


def rule_seeds(folder: Path) -> None:
    sources = [*ROOT.glob("rules/*.bcm"), *ROOT.glob("tests/lang/golden/*.bcm")]
    sources += ROOT.glob("tests/lang/packs/**/*.bcm")
    for n, path in enumerate(sorted(sources)):
        if not path.is_file():  # some golden cases are folders, or links to nothing
            continue
        data = path.read_bytes()
        if len(data) <= 64 * 1024:
            (folder / f"seed-{n}").write_bytes(data)


def document_seeds(folder: Path) -> None:
    formats = {".json": 0, ".yaml": 1, ".yml": 1, ".jsonl": 2}
    sources = [*ROOT.glob("examples/jp/*.json"), *ROOT.glob("examples/jp/proposals/*.json")]
    sources += ROOT.glob("tests/lang/golden/D*")
    for n, path in enumerate(sorted(sources)):
        selector = formats.get(path.suffix)
        if selector is None or not path.is_file():
            continue
        data = path.read_bytes()[: 32 * 1024]
        (folder / f"seed-{n}").write_bytes(bytes([selector]) + data)


def body_seeds(folder: Path) -> None:
    proposals = [json.loads(p.read_text()) for p in sorted(ROOT.glob("examples/jp/proposals/*"))]
    history = [json.loads(line) for line in (ROOT / "examples/jp/history.jsonl").open()]
    rules = (ROOT / "rules/human_dignity.bcm").read_text(encoding="utf-8")
    bodies = [
        (0, {"proposal": proposals[0]}),
        (0, {"proposal": proposals[1], "history": history[:3], "lang": "ja"}),
        (0, {"proposal": proposals[2], "params": {"reversal_window": "1000 days"}}),
        (1, {"proposals": proposals, "history": history[:2]}),
        (2, {"proposal": proposals[0], "rule": "oscillation", "history": history[:4]}),
        (3, {"files": {"mine.bcm": rules}, "manifest": 'name = "x"\nversion = "1"\n'}),
    ]
    for n, (selector, body) in enumerate(bodies):
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        (folder / f"seed-{n}").write_bytes(bytes([selector]) + data)


HARNESSES: dict[str, Callable[[Path], None]] = {
    "parse_and_check": rule_seeds,
    "documents": document_seeds,
    "service_bodies": body_seeds,
}


def atheris(name: str, seconds: int, input_timeout: int) -> list[str]:
    corpus = CACHE / name
    corpus.mkdir(parents=True, exist_ok=True)
    seeds = Path(tempfile.mkdtemp(prefix=f"bcm-seeds-{name}-"))
    HARNESSES[name](seeds)
    artifacts = Path(tempfile.mkdtemp(prefix=f"bcm-findings-{name}-"))
    return [
        sys.executable,
        str(FUZZ / f"{name}.py"),
        f"-max_total_time={seconds}",
        f"-timeout={input_timeout}",
        "-rss_limit_mb=2048",
        "-max_len=65536",
        "-print_final_stats=1",
        f"-artifact_prefix={artifacts}/{name}-",
        str(corpus),
        str(seeds),
    ]


def keep_findings(command: list[str]) -> list[Path]:
    prefix = next(a for a in command if a.startswith("-artifact_prefix="))
    folder = Path(prefix.split("=", 1)[1]).parent
    found = sorted(folder.glob("*"))
    if found:
        FINDINGS.mkdir(exist_ok=True)
        for path in found:
            shutil.copy(path, FINDINGS / path.name)
    return [FINDINGS / p.name for p in found]


# --- running --------------------------------------------------------------------------------


def run(label: str, command: list[str], env: dict[str, str]) -> tuple[str, float, int]:
    print(f"\n=== {label}\n$ {' '.join(command)}", flush=True)
    start = time.monotonic()
    status = subprocess.run(command, cwd=ROOT, env=env, check=False).returncode
    spent = time.monotonic() - start
    print(f"=== {label}: {'ok' if status == 0 else f'FAILED ({status})'} in {spent:.0f} s")
    return label, spent, status


def run_side_by_side(
    jobs: list[tuple[str, list[str]]], env: dict[str, str]
) -> list[tuple[str, float, int]]:
    """The harnesses at once, one core each; each one's output in a log, printed after."""
    results = []
    with contextlib.ExitStack() as logs:
        started = []
        for label, command in jobs:
            log = logs.enter_context(tempfile.TemporaryFile())
            print(f"\n=== {label} (in parallel)\n$ {' '.join(command)}", flush=True)
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
            started.append((label, process, log, time.monotonic()))
        for label, process, log, start in started:
            status = process.wait()
            spent = time.monotonic() - start
            log.seek(0)
            tail = log.read().decode("utf-8", "replace").splitlines()[-25:]
            outcome = "ok" if status == 0 else f"FAILED ({status})"
            print(f"\n=== {label}: {outcome} in {spent:.0f} s")
            print("\n".join(tail))
            results.append((label, spent, status))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument(
        "--seconds", type=int, default=90, help="time of the atheris harnesses (default 90)"
    )
    parser.add_argument(
        "--input-timeout",
        type=int,
        default=20,
        help="seconds after which one atheris input counts as a hang (default 20)",
    )
    parser.add_argument(
        "--max-examples",
        type=int,
        default=500,
        help="hypothesis examples per test, at most (default 500)",
    )
    args = parser.parse_args(argv)
    env = {**os.environ, "BCM_FUZZ": "1", "PYTHONPATH": str(ROOT)}
    results = []
    started = time.monotonic()
    if "slow" in args.parts:
        command = pytest("-m", "slow", "tests", "--ignore=tests/hostile",
                         max_examples=args.max_examples)  # fmt: skip
        results.append(run("slow property suites", command, env))
    if "hostile" in args.parts:
        command = pytest("tests/hostile", max_examples=args.max_examples)
        results.append(run("hostile input", command, env))
    if "schemathesis" in args.parts:
        command = pytest("tests/service/test_schemathesis.py", max_examples=None)
        results.append(run("schemathesis", command, env))
    findings: list[Path] = []
    if "atheris" in args.parts and importlib.util.find_spec("atheris") is None:
        print("\natheris is not installed (its wheels are for Linux x86_64): part skipped")
    elif "atheris" in args.parts:
        jobs = [(f"atheris {n}", atheris(n, args.seconds, args.input_timeout)) for n in HARNESSES]
        results += run_side_by_side(jobs, env)
        for _, command in jobs:
            findings += keep_findings(command)
    print(f"\n{'part':<24} {'time':>7}  result")
    for label, spent, status in results:
        print(f"{label:<24} {spent:>6.0f}s  {'ok' if status == 0 else 'FAILED'}")
    print(f"{'all':<24} {time.monotonic() - started:>6.0f}s")
    for path in findings:
        print(f"finding: {path}  (replay: python fuzz/{path.name.split('-')[0]}.py {path})")
    return 1 if any(status for _, _, status in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
