"""The examples of docs/history.md, run as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from checker.cli import main

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "history.md"


def examples() -> list[tuple[str, str]]:
    """(command, expected output) for each `$ bcm ...` line followed by its output."""
    found = []
    for block in re.findall(r"```\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        lines = block.splitlines()
        for n, line in enumerate(lines):
            if line.startswith("$ bcm "):
                output = []
                for rest in lines[n + 1 :]:
                    if rest.startswith("$ "):
                        break
                    output.append(rest)
                found.append((line[2:].split("#")[0].strip(), "\n".join(output)))
    return found


def test_the_document_has_examples() -> None:
    assert len(examples()) >= 4


def test_the_examples_print_what_the_document_shows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("BCM_DATABASE_URL", str(tmp_path / "docs.db"))
    for command, expected in examples():
        words = shlex.split(command)[1:]
        if ">" in words:
            words = words[: words.index(">")]
        code = main(words)
        out = capsys.readouterr().out
        assert code == 0, (command, out)
        if expected.strip():
            assert out.strip() == expected.strip(), command
