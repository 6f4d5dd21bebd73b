"""Pack loading: the manifest, the files read (and not read), the hash, and `bcm lint`."""

from __future__ import annotations

import json
import os
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from checker.cli import main
from checker.diagnostics import BcmError
from checker.lang.pack import PackError, lint_paths, load_checked_pack, read_manifest

SAMPLE = Path(__file__).parent / "packs" / "sample"
GOLDEN = Path(__file__).parent / "golden"

VALID_RULE = """principle legal_integrity {
  title en "Legal integrity"
  param notice_window = 90 days
  rule short_notice {
    kind conflict
    when days(proposal.proposed_on, proposal.effective_on) < notice_window
    severity medium
    message en "Less than {notice_window} of notice."
    remedy en "Give more notice."
  }
}
"""


@pytest.fixture
def pack_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "mypack"
    shutil.copytree(SAMPLE, folder)
    return folder


# --- loading a pack ---------------------------------------------------------------------------


def test_sample_pack_loads_with_its_manifest() -> None:
    pack = load_checked_pack(str(SAMPLE))
    assert (pack.manifest.name, pack.manifest.version) == ("sample", "0.1.0")
    assert (pack.manifest.default_lang, pack.manifest.jurisdiction) == ("en", "JP")
    overrides = {k: (v.value, v.unit) for k, v in pack.manifest.overrides["JP"].items()}
    assert overrides == {
        "reversal_window": (Decimal(1000), "days"),
        "material_change": (Decimal(15), "%"),
        "max_inflow": (Decimal(60000), None),
    }
    assert pack.warnings == ()
    assert pack.root == str(SAMPLE)


def test_rules_keep_file_order_then_written_order_with_their_source() -> None:
    pack = load_checked_pack(str(SAMPLE))
    assert [(r.id, r.principle, r.kind) for r in pack.rules] == [
        ("unprincipled_reversal", "normative_coherence", "reversal"),
        ("oscillation", "normative_coherence", "tension"),
        ("inflow_over_capacity", "integration_capacity", "conflict"),
        ("dignity_unassessed", "integration_capacity", "note"),
    ]
    assert pack.rule("oscillation").source == "sample/coherence.bcm:34:3"
    assert pack.rules[0].source == "sample/coherence.bcm:11:3"


def test_parameters_know_where_they_were_declared() -> None:
    pack = load_checked_pack(str(SAMPLE))
    assert pack.params["reversal_window"].principle == "normative_coherence"
    assert pack.params["max_inflow"].principle is None
    assert pack.params["material_change"].unit == "%"
    assert set(pack.defines) == {"pledged", "electoral"}


def test_the_hash_covers_the_manifest_and_every_rule_file(pack_dir: Path) -> None:
    first = load_checked_pack(str(pack_dir)).hash
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 64
    assert load_checked_pack(str(pack_dir)).hash == first
    # the same files elsewhere give the same hash: only relative names are hashed
    assert load_checked_pack(str(SAMPLE)).hash == first

    (pack_dir / "pack.toml").write_text(
        (pack_dir / "pack.toml").read_text(encoding="utf-8").replace("0.1.0", "0.1.1"),
        encoding="utf-8",
    )
    second = load_checked_pack(str(pack_dir)).hash
    assert second != first
    with (pack_dir / "coherence.bcm").open("a", encoding="utf-8") as f:
        f.write("# a comment changes the hash too\n")
    assert load_checked_pack(str(pack_dir)).hash not in (first, second)


def test_a_pack_with_errors_raises_every_diagnostic_with_the_texts(pack_dir: Path) -> None:
    bad = VALID_RULE.replace("notice_window\n", "notice_windw\n").replace(
        "kind conflict", "kind conflcit"
    )
    (pack_dir / "zz_bad.bcm").write_text(bad, encoding="utf-8")
    with pytest.raises(PackError) as raised:
        load_checked_pack(str(pack_dir))
    err = raised.value
    assert isinstance(err, BcmError)
    # the added rule also lacks the Japanese texts the sample's rules have (W004)
    assert [d.code for d in err.diagnostics if d.is_error] == ["E106", "E201"]
    assert str(pack_dir / "zz_bad.bcm") in err.sources
    assert err.diagnostics[0].span is not None
    assert err.diagnostics[0].span.file == str(pack_dir / "zz_bad.bcm")


def test_a_folder_without_manifest_uses_defaults(tmp_path: Path) -> None:
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "legal.bcm").write_text(VALID_RULE, encoding="utf-8")
    pack = load_checked_pack(str(tmp_path / "rules"))
    assert (pack.manifest.name, pack.manifest.version, pack.manifest.default_lang) == (
        "rules",
        "0.0.0",
        "en",
    )
    assert pack.rules[0].source == "rules/legal.bcm:4:3"


def test_only_rule_files_directly_in_the_folder_are_read(pack_dir: Path) -> None:
    (pack_dir / "drafts").mkdir()
    (pack_dir / "drafts" / "broken.bcm").write_text("principle {", encoding="utf-8")
    (pack_dir / "notes.txt").write_text("principle {", encoding="utf-8")
    assert len(load_checked_pack(str(pack_dir)).rules) == 4


def test_a_link_leading_outside_the_pack_is_not_read(pack_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.bcm"
    outside.write_text(VALID_RULE, encoding="utf-8")
    os.symlink(outside, pack_dir / "linked.bcm")
    diagnostics, sources = lint_paths([str(pack_dir)])
    assert [d.code for d in diagnostics] == ["P008"]
    assert str(pack_dir / "linked.bcm") not in sources
    assert "leads outside the pack folder" in diagnostics[0].message


def test_a_link_inside_the_pack_is_read(pack_dir: Path) -> None:
    (pack_dir / "extra").mkdir()
    (pack_dir / "extra" / "legal.bcm").write_text(VALID_RULE, encoding="utf-8")
    os.symlink(pack_dir / "extra" / "legal.bcm", pack_dir / "legal.bcm")
    pack = load_checked_pack(str(pack_dir))
    assert "short_notice" in [r.id for r in pack.rules]


def test_syntax_errors_of_every_file_come_with_the_checks_of_the_others(pack_dir: Path) -> None:
    (pack_dir / "b_broken.bcm").write_text(
        "principle p { rule r { when proposal.area = 1 } }", encoding="utf-8"
    )
    (pack_dir / "c_broken.bcm").write_text("principle p {", encoding="utf-8")
    (pack_dir / "d_bad.bcm").write_text(
        VALID_RULE.replace('"Legal integrity"', '"Legal"').replace("proposed_on", "proposd_on"),
        encoding="utf-8",
    )
    diagnostics, _ = lint_paths([str(pack_dir)])
    assert [(Path(d.span.file).name, d.code) for d in diagnostics if d.is_error and d.span] == [
        ("b_broken.bcm", "S002"),
        ("c_broken.bcm", "S003"),
        ("d_bad.bcm", "E301"),
    ]


def test_a_rule_file_not_in_utf8_is_unreadable(pack_dir: Path) -> None:
    (pack_dir / "sjis.bcm").write_bytes(VALID_RULE.replace("Legal", "法的").encode("cp932"))
    diagnostics, _ = lint_paths([str(pack_dir)])
    assert [d.code for d in diagnostics] == ["P002"]
    assert diagnostics[0].span is not None and diagnostics[0].span.line == 2


# --- the manifest -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "message", "line"),
    [
        ('name = "p"\nversion = 1.0\n[overrides\n', "P003", "not valid TOML", 3),
        ('version = "1"\n', "P004", "pack.toml has no `name`", 1),
        ('name = "p"\n', "P004", "pack.toml has no `version`", 1),
        ('name = "p"\nversion = 1\n', "P004", "`version` must be a text in quotes", 2),
        ('name = "p"\nversion = "1"\nlanguage = "ja"\n', "P004", "`language` is not a setting", 3),
        ('name = "p"\nversion = "1"\ndefault_lang = "JA"\n', "P004", "not a language code", 3),
        ('name = "p"\nversion = "1"\njurisdiction = "jpn"\n', "P004", "not an ISO 3166-1", 3),
        ('name = "p"\nversion = "1"\n[overrides.japan]\nx = 1\n', "P004", "`japan`", 3),
        ('name = "p"\nversion = "1"\n[overrides.JP]\nx = "1 week"\n', "P005", "`x`", 4),
        ('name = "p"\nversion = "1"\n[overrides.JP]\nx = true\n', "P005", "= true", 4),
        ('name = "p"\nversion = "1"\n[overrides.JP]\nx = "1 } principle"\n', "P005", "`x`", 4),
        ('name = "p"\nversion = "1"\n[overrides.JP]\nx = "1\\nparam y = 2"\n', "P005", "", 4),
    ],
)
def test_manifest_problems(text: str, code: str, message: str, line: int) -> None:
    manifest, problems = read_manifest(text, "pack.toml")
    assert manifest is None
    assert [p.code for p in problems] == [code]
    assert message in problems[0].message
    assert problems[0].span is not None and problems[0].span.line == line


@pytest.mark.parametrize(
    ("value", "number", "unit"),
    [
        ('"120 days"', "120", "days"),
        ('"1 day"', "1", "days"),
        ('"10%"', "10", "%"),
        ('"500 persons"', "500", "persons"),
        ("3", "3", None),
        ("1.5", "1.5", None),
        ('"2.25"', "2.25", None),
    ],
)
def test_override_values_use_the_number_syntax_of_the_language(
    value: str, number: str, unit: str | None
) -> None:
    manifest, problems = read_manifest(
        f'name = "p"\nversion = "1"\n\n[overrides.JP]\nwindow = {value}\n', "pack.toml"
    )
    assert problems == []
    assert manifest is not None
    found = manifest.overrides["JP"]["window"]
    assert (found.value, found.unit) == (Decimal(number), unit)
    assert found.span.file == "pack.toml" and found.span.line == 5


def test_override_errors_point_into_pack_toml(pack_dir: Path) -> None:
    toml = pack_dir / "pack.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8") + 'reversl_window = "3 days"\nmin_notice = "3%"\n',
        encoding="utf-8",
    )
    diagnostics, sources = lint_paths([str(pack_dir)])
    assert [(d.code, d.span.line if d.span else 0) for d in diagnostics] == [
        ("P006", 11),
        ("P007", 12),
    ]
    assert diagnostics[0].help == "did you mean `reversal_window`?"
    assert str(toml) in sources


# --- bcm lint ---------------------------------------------------------------------------------


def _lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["lint", *args])
    return code, capsys.readouterr().out


def test_lint_of_a_clean_pack_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(capsys, str(SAMPLE))
    assert code == 0
    assert out == "no problems in 4 files.\n"


def test_lint_with_warnings_only_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(capsys, str(GOLDEN / "W001-unused-parameter.bcm"))
    assert code == 0
    assert "warning[W001]: the parameter `notice_window` is never used" in out
    assert out.endswith("0 errors, 1 warning.\n")


def test_lint_with_errors_exits_1_and_shows_every_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(capsys, str(GOLDEN / "E502-placeholder-not-a-name.bcm"))
    assert code == 1
    assert "error[E502]: `{proposal.__class__}` names a private attribute" in out
    assert "error[E502]: `{len(proposal.title)}` is not a name or a field" in out
    assert out.endswith("2 errors, 0 warnings.\n")


@pytest.mark.parametrize(
    "path",
    [
        "no/such/pack",
        str(GOLDEN / "P002-not-utf8.bcm"),
        str(Path(__file__)),  # neither a pack folder nor a rule file
    ],
)
def test_lint_of_unreadable_input_exits_2(capsys: pytest.CaptureFixture[str], path: str) -> None:
    code, out = _lint(capsys, path)
    assert code == 2
    assert "error[P00" in out


def test_unreadable_input_wins_over_errors(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _lint(capsys, str(GOLDEN / "E301-unknown-field.bcm"), "missing.bcm")
    assert code == 2


def test_lint_json_lists_the_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(capsys, "--format", "json", str(GOLDEN / "E402-enum-value-misspelt.bcm"))
    assert code == 1
    (item,) = json.loads(out)
    assert item == {
        "code": "E402",
        "level": "error",
        "message": '"expnad" is not a value of `proposal.direction`',
        "file": str(GOLDEN / "E402-enum-value-misspelt.bcm"),
        "line": 6,
        "column": 32,
        "end_line": 6,
        "end_column": 40,
        "help": "did you mean `expand`? allowed: expand, neutral, restrict",
    }


def test_lint_json_of_a_clean_pack_is_an_empty_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(capsys, "--format", "json", str(SAMPLE))
    assert (code, json.loads(out)) == (0, [])


def test_rule_files_named_one_by_one_are_checked_together(tmp_path: Path) -> None:
    (tmp_path / "shared.bcm").write_text("param notice_window = 90 days\n", encoding="utf-8")
    rule = VALID_RULE.replace("  param notice_window = 90 days\n", "")
    (tmp_path / "legal.bcm").write_text(rule, encoding="utf-8")
    diagnostics, _ = lint_paths([str(tmp_path / "shared.bcm"), str(tmp_path / "legal.bcm")])
    assert diagnostics == []
    alone, _ = lint_paths([str(tmp_path / "legal.bcm")])
    assert [d.code for d in alone] == ["E201", "E501"]


def test_japanese_text_renders_with_the_caret_under_it(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _lint(capsys, str(GOLDEN / "E109-bad-language-code.bcm"))
    assert code == 1
    assert '9 |     message JP "大規模な変更です。"\n  |             ^^\n' in out
