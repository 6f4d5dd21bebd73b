"""The curl examples of docs/http-api.md, run in order against a real `bcm serve`.

Each `sh` block is a command; the `json` block right after it, when there is one, is part of
what it prints: every key shown must be there with the value shown, and a list shown holds the
first items of the list printed (documentation trims; it must not invent).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, TOKEN, Server

DOC = ROOT / "docs" / "http-api.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.DOTALL | re.MULTILINE)


def examples() -> list[tuple[str, Any]]:
    """(command, expected output or None) for every runnable block, in document order."""
    blocks = [(m.group(1), m.group(2)) for m in FENCE.finditer(DOC.read_text(encoding="utf-8"))]
    found: list[tuple[str, Any]] = []
    for n, (kind, text) in enumerate(blocks):
        if kind != "sh" or all(line.startswith("export ") for line in text.strip().splitlines()):
            continue
        following = blocks[n + 1] if n + 1 < len(blocks) else ("", "")
        expected = json.loads(following[1]) if following[0] == "json" else None
        found.append((text.strip(), expected))
    return found


def contains(actual: Any, shown: Any, where: str = "$") -> list[str]:
    """Where `shown` is not part of `actual` (empty when it is)."""
    if isinstance(shown, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {actual!r}"]
        return [
            problem
            for key, value in shown.items()
            for problem in (
                contains(actual[key], value, f"{where}.{key}")
                if key in actual
                else [f"{where}.{key}: missing"]
            )
        ]
    if isinstance(shown, list):
        if not isinstance(actual, list) or len(actual) < len(shown):
            return [f"{where}: expected at least {len(shown)} items, got {actual!r}"]
        return [
            p for i, item in enumerate(shown) for p in contains(actual[i], item, f"{where}[{i}]")
        ]
    return [] if actual == shown else [f"{where}: expected {shown!r}, got {actual!r}"]


def test_the_document_has_examples_of_every_endpoint() -> None:
    commands = " ".join(command for command, _ in examples())
    for endpoint in [
        "/v1/check",
        "/v1/check/batch",
        "/v1/explain",
        "/v1/history/JP",
        "/v1/trajectory/",
        "/v1/pack",
        "/v1/pack/lint",
        "/v1/pack/reload",
        "/readyz",
    ]:
        assert f"$BCM_URL{endpoint}" in commands, endpoint


def test_the_curl_examples_do_what_the_document_says(served: Server, tmp_path: Path) -> None:
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    environment = {**os.environ, "BCM_URL": served.url, "BCM_TOKEN": TOKEN}
    for command, expected in examples():
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", command],
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        if expected is None:
            continue
        output = done.stdout
        status = re.search(r"\n?(\d{3})\n?$", output)
        if "%{http_code}" in command and status:
            output = output[: status.start()]
        problems = contains(json.loads(output), expected)
        assert not problems, f"{command}\n" + "\n".join(problems)
    assert (tmp_path / "trajectory.svg").read_bytes().lstrip().startswith(b"<?xml")


@pytest.mark.parametrize(
    ("actual", "shown", "fits"),
    [
        ({"a": 1, "b": [1, 2]}, {"b": [1]}, True),
        ({"a": 1}, {"a": 2}, False),
        ({"a": [{"x": 1}]}, {"a": [{"x": 1}, {"x": 2}]}, False),
        ([{"id": "A", "n": 1}], [{"id": "A"}], True),
    ],
)
def test_shown_output_must_be_part_of_the_real_output(actual: Any, shown: Any, fits: bool) -> None:
    assert (contains(actual, shown) == []) is fits
