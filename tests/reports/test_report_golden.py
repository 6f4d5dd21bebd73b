"""Golden files: every format, for each of the three example proposals, in English and Japanese,
and the three together where a format has a summary.

`BCM_UPDATE_GOLDEN=1 pytest tests/reports` rewrites them; review the diff before committing.
The pack's hash is shown as `sha256:<pack hash>` in the golden files, so that a change of
the rule files that changes nothing a report says (a comment, the layout) leaves them alone.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import pytest

from checker.report import FORMATS, render

from .conftest import LANGS, PROPOSALS, Examples

GOLDEN = Path(__file__).parent / "golden"
SUFFIX = {
    "text": "txt",
    "json": "json",
    "md": "md",
    "html": "html",
    "sarif": "sarif",
    "junit": "junit.xml",
}
HASH_STAND_IN = "sha256:<pack hash>"


def _normalised(text: str, pack_hash: str) -> str:
    # The text report shows the hash shortened; both spellings stand in for the same pack.
    return text.replace(pack_hash, HASH_STAND_IN).replace(pack_hash[:19], HASH_STAND_IN)


def assert_golden(path: Path, actual: str) -> None:
    if os.environ.get("BCM_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="")
        return
    assert path.is_file(), f"no golden file {path}: run `BCM_UPDATE_GOLDEN=1 pytest tests/reports`"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            f"{path.name} (golden)",
            f"{path.name} (now)",
            lineterm="",
        )
        shown = "\n".join(list(diff)[:80])
        pytest.fail(
            f"{path} differs from the report rendered now; if the change is intended, run "
            f"`BCM_UPDATE_GOLDEN=1 pytest tests/reports` and review the diff:\n{shown}",
            pytrace=False,
        )


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("name", list(PROPOSALS))
@pytest.mark.parametrize("lang", LANGS)
def test_one_proposal(examples: Examples, lang: str, name: str, format: str) -> None:
    checked = examples.check([name], lang)
    text = render(format, checked.reports, checked.context, as_list=False)
    pack_hash = checked.reports[0].pack.hash
    assert_golden(GOLDEN / lang / f"{name}.{SUFFIX[format]}", _normalised(text, pack_hash))


@pytest.mark.parametrize("format", ["text", "json", "md", "junit"])
@pytest.mark.parametrize("lang", LANGS)
def test_three_proposals_together(examples: Examples, lang: str, format: str) -> None:
    checked = examples.check(list(PROPOSALS), lang)
    text = render(format, checked.reports, checked.context)
    pack_hash = checked.reports[0].pack.hash
    assert_golden(GOLDEN / lang / f"all-three.{SUFFIX[format]}", _normalised(text, pack_hash))


def test_every_golden_file_is_a_case() -> None:
    """A golden file whose case was removed would never be compared again."""
    cases = {
        f"{lang}/{name}.{SUFFIX[f]}" for lang in LANGS for name in PROPOSALS for f in FORMATS
    } | {f"{lang}/all-three.{SUFFIX[f]}" for lang in LANGS for f in ("text", "json", "md", "junit")}
    present = {p.relative_to(GOLDEN).as_posix() for p in GOLDEN.rglob("*") if p.is_file()}
    assert present <= cases, f"golden files no test writes: {sorted(present - cases)}"
