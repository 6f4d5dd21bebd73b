"""Golden tests: for every diagnostic code, a bad input and what `bcm lint` shows for it.

Each entry of tests/lang/golden/ is named `<code>-<what>`: a `.bcm` file, a folder (a pack, for
the codes of pack.toml), or a policy-change document (`.json`, `.yaml`, and `.jsonl` read as a
history) for the D codes. Its expected rendering is `<code>-<what>.expected.txt` beside it.
Run with BCM_UPDATE_GOLDEN=1 to rewrite the expected files after a deliberate change, and
read the diff before committing it.

docs/diagnostics.md documents every code; a code without a golden entry, or a golden entry
for an undocumented code, fails here.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from checker.diagnostics import BcmError, Diagnostic, render_all
from checker.lang.pack import lint_paths
from checker.loading import document_sources, load_documents, load_history

GOLDEN = Path(__file__).parent / "golden"
DOCS = Path(__file__).parents[2] / "docs" / "diagnostics.md"
UPDATE = os.environ.get("BCM_UPDATE_GOLDEN") == "1"
_CODE = re.compile(r"^([A-Z]\d{3})-")
DOCUMENT_SUFFIXES = (".json", ".yaml", ".yml", ".jsonl")
# Small enough that the D008 case stays a small file.
DOCUMENT_LIMIT = 4096


def _entries() -> list[str]:
    names = []
    for entry in sorted(os.listdir(GOLDEN)):
        if entry.endswith(".expected.txt") or not _CODE.match(entry):
            continue
        names.append(entry)
    return names


def _expected_name(entry: str) -> str:
    return os.path.splitext(entry)[0] + ".expected.txt"


def _render(entry: str, monkeypatch: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    # Paths are given relative to the golden folder, so the rendering names files the same
    # wherever the repository is checked out.
    monkeypatch.chdir(GOLDEN)
    if entry.endswith(DOCUMENT_SUFFIXES):
        diagnostics = _document_diagnostics(entry)
        sources = document_sources([entry]) if os.path.isfile(entry) else {}
    else:
        diagnostics, sources = lint_paths([entry])
    return render_all(diagnostics, sources) + "\n", [d.code for d in diagnostics]


def _document_diagnostics(entry: str) -> list[Diagnostic]:
    try:
        if entry.endswith(".jsonl"):
            load_history(entry, max_bytes=DOCUMENT_LIMIT)
        else:
            load_documents(entry, max_bytes=DOCUMENT_LIMIT)
    except BcmError as err:
        return err.diagnostics
    return []


@pytest.mark.parametrize("entry", _entries())
def test_golden(entry: str, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _CODE.match(entry).group(1)  # type: ignore[union-attr]
    rendered, codes = _render(entry, monkeypatch)
    assert code in codes, f"{entry} should produce {code}, produced {codes}"
    expected_file = GOLDEN / _expected_name(entry)
    if UPDATE or not expected_file.exists():
        expected_file.write_text(rendered, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"wrote {expected_file.name}; check it and commit it")
    assert rendered == expected_file.read_text(encoding="utf-8")


def _documented_codes() -> list[str]:
    return re.findall(r"^## ([A-Z]\d{3})\b", DOCS.read_text(encoding="utf-8"), re.M)


def test_every_documented_code_has_a_golden_entry() -> None:
    golden = {_CODE.match(e).group(1) for e in _entries()}  # type: ignore[union-attr]
    documented = set(_documented_codes())
    assert sorted(documented - golden) == [], "documented codes without a golden entry"
    assert sorted(golden - documented) == [], "golden entries for undocumented codes"


def test_every_code_the_checker_can_emit_is_documented() -> None:
    checker = Path(__file__).parents[2] / "checker"
    emitted: set[str] = set()
    for name in ("lang/check.py", "lang/pack.py", "lang/types.py", "lang/parse.py", "loading.py"):
        text = (checker / name).read_text(encoding="utf-8")
        emitted.update(re.findall(r'"([SEWPD]\d{3})"', text))
    assert sorted(emitted - set(_documented_codes())) == []


def test_documented_codes_are_unique_and_in_order() -> None:
    codes = _documented_codes()
    assert len(codes) == len(set(codes))
    assert codes == sorted(codes, key=lambda c: ("SEWPD".index(c[0]), c))


def test_each_code_section_has_the_fixed_layout() -> None:
    text = DOCS.read_text(encoding="utf-8")
    sections = re.split(r"^## (?=[A-Z]\d{3}\b)", text, flags=re.M)[1:]
    assert sections
    for section in sections:
        code = section[:4]
        headings = re.findall(r"^\*\*(.+?)\*\*", section, re.M)
        assert headings == ["What it detects", "Why it matters", "Example", "Fix"], code
