"""The atheris harnesses of `make fuzz`, in a short slice: each one runs over its seeds and a
few hundred mutations of them, as libFuzzer drives it, and must end with no finding.

This keeps the harnesses working between fuzzing runs (an entry point they call that is
renamed or changed fails here first) and gives `make test` a taste of coverage-guided
fuzzing; `make fuzz` runs the same harnesses for minutes.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fuzz.run import HARNESSES  # noqa: E402

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None,
    reason="atheris has wheels for Linux x86_64 only",
)
RUNS = 300


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_a_harness_runs_its_seeds_and_mutations_with_no_finding(name: str, tmp_path: Path) -> None:
    seeds, corpus, artifacts = tmp_path / "seeds", tmp_path / "corpus", tmp_path / "found"
    for folder in (seeds, corpus, artifacts):
        folder.mkdir()
    HARNESSES[name](seeds)
    assert len(list(seeds.iterdir())) >= 3, "a harness needs seeds to start from"
    command = [
        sys.executable,
        str(ROOT / "fuzz" / f"{name}.py"),
        f"-runs={RUNS}",
        "-seed=1",
        "-timeout=20",
        "-rss_limit_mb=2048",
        "-max_len=65536",
        f"-artifact_prefix={artifacts}/",
        str(corpus),
        str(seeds),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    tail = "\n".join(done.stderr.splitlines()[-30:])
    assert done.returncode == 0, f"{name} found something:\n{tail}"
    assert list(artifacts.iterdir()) == [], f"{name} left a finding:\n{tail}"
    assert f"Done {RUNS} runs" in done.stderr or "DONE" in done.stderr, tail
