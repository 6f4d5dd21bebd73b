"""docs/principles.md: generated from the rule pack by `bcm docs`, and kept in step with it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from checker.cli import main
from checker.docsgen import principles_markdown, prose
from checker.lang.checked import CheckedPack
from checker.lang.pack import load_checked_pack

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
COMMITTED = ROOT / "docs" / "principles.md"


@pytest.fixture(scope="module")
def pack() -> CheckedPack:
    return load_checked_pack(str(RULES))


@pytest.fixture(scope="module")
def page(pack: CheckedPack) -> str:
    return principles_markdown(pack)


def _rule_section(page: str, rule: str) -> str:
    match = re.search(rf"^### `{rule}`\n(.*?)(?=^##(?:#)? |\Z)", page, re.S | re.M)
    assert match, f"no section for {rule}"
    return match.group(1)


def test_the_committed_reference_is_the_generated_one(page: str) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == page, "run `bcm docs` and commit the result"


def test_the_page_does_not_depend_on_how_the_pack_was_named(
    page: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    assert principles_markdown(load_checked_pack("rules")) == page
    assert str(ROOT) not in page


def test_every_principle_has_its_titles_and_what_the_model_demands(
    pack: CheckedPack, page: str
) -> None:
    for name, principle in pack.principles.items():
        titles = {t.lang: t.text for t in principle.titles}
        assert f"## {titles['en']} ({titles['ja']})" in page
        assert f"Principle id: `{name}`" in page
    assert page.count("### What the model demands / モデルの要請") == len(pack.principles)


def test_every_rule_has_its_kind_severity_sections_and_messages(
    pack: CheckedPack, page: str
) -> None:
    for info in pack.rules:
        section = _rule_section(page, info.id)
        assert f"| kind | {info.kind} (" in section
        assert "| severity | `" in section
        for heading in ("What it detects", "Why the model cares", "Example", "Remedy"):
            assert f"#### {heading} / " in section, (info.id, heading)
        for text in (*info.rule.messages, *info.rule.remedies):
            assert f"- **{text.lang}**: {text.text}" in section
        assert {t.lang for t in info.rule.messages} >= {"en", "ja"}


def test_a_rule_lists_the_parameters_it_reads_through_its_definitions(page: str) -> None:
    section = _rule_section(page, "unprincipled_reversal")
    assert "| severity | `high if electoral else medium` |" in section
    assert (
        "| parameters | `reversal_window` = 1461 days, `election_window` = 180 days, "
        "`material_change` = 10% |"
    ) in section
    assert "| definitions | `pledged`, `evidence_moved`, `principled`, `electoral` |" in section
    assert "let gap = days(prior.effective_on, proposal.effective_on)" in section


def test_a_rule_without_parameters_says_so(page: str) -> None:
    section = _rule_section(page, "legal_basis_required")
    assert "| parameters | none |" in section
    assert "when proposal.legal_basis is empty" in section


def test_the_parameter_table_names_the_rules_that_use_each(page: str) -> None:
    assert (
        "| `capacity_margin` | 90% | `capacity_margin` |" in page
        and "| `min_notice_days` | 90 days | `abrupt_major_change` |" in page
    )


@pytest.mark.parametrize(
    ("text", "paragraphs"),
    [
        ("one line", "one line"),
        ("an English text\n      over two lines", "an English text over two lines"),
        ("日本語の文章は\n      改行しても続く", "日本語の文章は改行しても続く"),
        (
            "`min_notice_days`未満である変更を\n  検出します",
            "`min_notice_days`未満である変更を検出します",
        ),
        ("first\n\n  second", "first\n\nsecond"),
    ],
)
def test_prose_joins_lines_as_the_language_does(text: str, paragraphs: str) -> None:
    assert prose(text) == paragraphs


# --- bcm docs ---------------------------------------------------------------------------------


def test_bcm_docs_writes_the_reference(
    tmp_path: Path, page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "principles.md"
    assert main(["docs", "--rules", str(RULES), "--output", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == page
    assert f"wrote {target}" in capsys.readouterr().out


def test_bcm_docs_check_passes_on_a_fresh_file(
    tmp_path: Path, page: str, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "principles.md"
    target.write_text(page, encoding="utf-8")
    assert main(["docs", "--rules", str(RULES), "--output", str(target), "--check"]) == 0
    assert "is up to date" in capsys.readouterr().out


@pytest.mark.parametrize("stale", [None, "# an old page\n"])
def test_bcm_docs_check_fails_on_a_stale_or_missing_file(
    tmp_path: Path, stale: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "principles.md"
    if stale is not None:
        target.write_text(stale, encoding="utf-8")
    assert main(["docs", "--rules", str(RULES), "--output", str(target), "--check"]) == 1
    assert "is out of date: run `bcm docs" in capsys.readouterr().out
    assert (target.read_text(encoding="utf-8") if stale else None) == stale


def test_bcm_docs_prints_to_standard_output(page: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["docs", "--rules", str(RULES), "--output", "-"]) == 0
    assert capsys.readouterr().out == page


def test_bcm_docs_reports_a_broken_pack_as_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "pack"
    broken.mkdir()
    (broken / "pack.toml").write_text('name = "broken"\nversion = "0.1.0"\n', encoding="utf-8")
    (broken / "p.bcm").write_text(
        'principle legal_integrity { rule r { kind note when proposal.area = "exit" } }\n',
        encoding="utf-8",
    )
    target = tmp_path / "out.md"
    assert main(["docs", "--rules", str(broken), "--output", str(target)]) == 2
    assert "S002" in capsys.readouterr().out
    assert not target.exists()


def test_bcm_docs_reports_an_unwritable_output_as_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "missing" / "principles.md"
    assert main(["docs", "--rules", str(RULES), "--output", str(target)]) == 2
    assert f"cannot write {target}" in capsys.readouterr().out
