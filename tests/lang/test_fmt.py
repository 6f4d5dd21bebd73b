"""`bcm fmt`: the canonical layout of rule files, what it keeps, and the command's exit codes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from checker.cli import main
from checker.diagnostics import BcmError
from checker.lang.fmt import format_file, format_text, rule_files
from checker.lang.parse import parse, parse_with_comments

REPO = Path(__file__).resolve().parents[2]

# A backslash at the end of a line of MESSY joins it to the next (to keep this file's lines short).
MESSY = """\
# 規範的一貫性: a messy file, as someone might write it by hand.

principle   normative_coherence{
rule unprincipled_reversal{ severity high if pledged else medium # chosen by pledge
    when prior.direction!=proposal.direction and ((proposal.direction != "neutral"))
    # the reversal window, or a pledge
    and (days(prior.effective_on, proposal.effective_on) <= reversal_window or pledged)
    kind   reversal
  message ja "{prior.id}を覆しています。"
    message en "Reverses {prior.id}."
    let prior = latest h in history where h.scope == proposal.scope and h.status == "enacted"
    remedy en "Cite the \\"evidence\\"."
    about { why ja \"\"\"選挙ではなく
根拠を。\"\"\" detects en "A reversal." }
}
  title ja "規範的一貫性"   title en "Normative coherence"
   param reversal_window = 1461 day
  define pledged = proposal.context.announced_in_campaign or (proposal.rationale.trigger == \
"electoral_pledge")
  param material_change = 10 %
   # trailing note of the principle
}
param share = 0.50
define big = (1 + 2) * 3 - -(4) >= 2019-04-01   # odd but valid
"""

CANONICAL = """\
# 規範的一貫性: a messy file, as someone might write it by hand.

param share = 0.50

define big = (1 + 2) * 3 - -4 >= 2019-04-01  # odd but valid

principle normative_coherence {
  title ja "規範的一貫性"
  title en "Normative coherence"

  param reversal_window = 1461 days
  param material_change = 10%

  define pledged = proposal.context.announced_in_campaign
    or proposal.rationale.trigger == "electoral_pledge"

  rule unprincipled_reversal {
    kind reversal
    let prior = latest h in history where h.scope == proposal.scope and h.status == "enacted"
    when prior.direction != proposal.direction
      and proposal.direction != "neutral"
      # the reversal window, or a pledge
      and (days(prior.effective_on, proposal.effective_on) <= reversal_window or pledged)
    severity high if pledged else medium  # chosen by pledge
    message ja "{prior.id}を覆しています。"
    message en "Reverses {prior.id}."
    remedy en "Cite the \\"evidence\\"."
    about {
      why ja \"\"\"選挙ではなく
根拠を。\"\"\"
      detects "A reversal."
    }
  }
  # trailing note of the principle
}
"""


def test_a_messy_file_gets_the_canonical_layout() -> None:
    assert format_text(MESSY) == CANONICAL
    assert parse(CANONICAL) == parse(MESSY)
    assert format_text(CANONICAL) == CANONICAL


# (note, input, expected output): one construct each.
CASES = [
    (
        "parentheses only where precedence needs them",
        "define d = ((a and b)) or (c and (d or e))",
        "define d = a and b or c and (d or e)",
    ),
    (
        "an `and` inside an `and` keeps its parentheses: the tree has it nested",
        "define d = a and (b and c)",
        "define d = a and (b and c)",
    ),
    (
        "arithmetic is left-associative",
        "define d = (a - (b - c)) - (d * e) / (f / g)",
        "define d = a - (b - c) - d * e / (f / g)",
    ),
    (
        "comparisons do not chain",
        "define d = (a == b) == (c < d)",
        "define d = (a == b) == (c < d)",
    ),
    ("unary minus binds tightest", "define d = -(a + b) * - - c", "define d = -(a + b) * --c"),
    (
        "`not` over a conjunction",
        "define d = not (a and b) and not not c",
        "define d = not (a and b) and not not c",
    ),
    (
        "`not` over a comparison keeps its parentheses, and gets them",
        "define d = not (a == b) or not a > 1 or not (x is null) or not (flag)",
        "define d = not (a == b) or not (a > 1) or not (x is null) or not flag",
    ),
    (
        "numbers as written, without leading zeros",
        "param a = 007\nparam b = 1.50",
        "param a = 7\nparam b = 1.50",
    ),
    (
        "units: `%` attached, days and persons singular only for one",
        "param a = 10 %\nparam b = 1 days\nparam c = 2 person\nparam d = 1461 day",
        "param a = 10%\nparam b = 1 day\nparam c = 2 persons\nparam d = 1461 days",
    ),
    (
        "literals and lists",
        'define d = [ 2019-04-01,true , false,null,"x" ]',
        'define d = [2019-04-01, true, false, null, "x"]',
    ),
    (
        "strings escaped canonically",
        r'define d = "tab	here \"q\" back\\slash \q"',
        r'define d = "tab\there \"q\" back\\slash \\q"',
    ),
    (
        "a triple-quoted text on one line becomes a plain string",
        'define d = """one "line" """',
        'define d = "one \\"line\\" "',
    ),
    (
        "a text with a line break is triple-quoted",
        'define d = "two\\nlines, \\"quoted\\""',
        'define d = """two\nlines, "quoted\\""""',
    ),
    (
        "quantifiers and calls",
        "define d = any( e in proposal.rationale.evidence :moved(e.value,e.previous,10%) )",
        "define d = any(e in proposal.rationale.evidence: moved(e.value, e.previous, 10%))",
    ),
    (
        "membership, null and empty tests",
        'define d = proposal.area not in ["exit","integration"] and x is not null and y is empty',
        'define d = proposal.area not in ["exit", "integration"] and x is not null and y is empty',
    ),
    (
        "clauses in the canonical order, severity chosen by conditions",
        'principle p { rule r { remedy en "r" message en "m" severity high if a else medium if b '
        "else low when a kind note } }",
        "principle p {\n  rule r {\n    kind note\n    when a\n"
        "    severity high if a else medium if b else low\n"
        '    message en "m"\n    remedy en "r"\n  }\n}',
    ),
    (
        "about sections: English needs no language",
        'principle p { about { detects en "d" why ja "w" } title en "P" }',
        'principle p {\n  title en "P"\n\n  about {\n    detects "d"\n    why ja "w"\n  }\n}',
    ),
    (
        "a long condition breaks before each `or`; a long `and` in it in turn, aligned",
        "define electoral = pledged or (proposal.proposed_on is not null and "
        "days(proposal.proposed_on, proposal.context.next_election_on) >= 0 days and "
        "days(proposal.proposed_on, proposal.context.next_election_on) <= election_window)",
        "define electoral = pledged\n"
        "  or proposal.proposed_on is not null\n"
        "     and days(proposal.proposed_on, proposal.context.next_election_on) >= 0 days\n"
        "     and days(proposal.proposed_on, proposal.context.next_election_on) <= election_window",
    ),
    (
        "a long parenthesised group hangs after its parenthesis",
        "define electoral = pledged and (proposal.proposed_on is null or "
        "days(proposal.proposed_on, proposal.context.next_election_on) >= 0 days or "
        "days(proposal.proposed_on, proposal.context.next_election_on) <= election_window)",
        "define electoral = pledged\n"
        "  and (proposal.proposed_on is null\n"
        "       or days(proposal.proposed_on, proposal.context.next_election_on) >= 0 days\n"
        "       or days(proposal.proposed_on, proposal.context.next_election_on)"
        " <= election_window)",
    ),
    (
        "a long history query breaks its condition",
        "principle p { rule r { let recent = count h in history where h.scope == proposal.scope "
        'and h.status == "enacted" and days(h.effective_on, proposal.effective_on) <= 365 days } }',
        "principle p {\n  rule r {\n"
        "    let recent = count h in history where h.scope == proposal.scope\n"
        '      and h.status == "enacted"\n'
        "      and days(h.effective_on, proposal.effective_on) <= 365 days\n"
        "  }\n}",
    ),
    (
        "a short condition written on several lines is joined",
        "define d = a\n   and b\n   and c",
        "define d = a and b and c",
    ),
    (
        "parameters, then definitions, then principles, with blank lines between",
        "principle p { } define d = 1 param a = 2 param b = 3",
        "param a = 2\nparam b = 3\n\ndefine d = 1\n\nprinciple p {\n}",
    ),
    (
        "rules are separated by a blank line",
        "principle p { rule a { kind note } rule b { kind note } }",
        "principle p {\n  rule a {\n    kind note\n  }\n\n  rule b {\n    kind note\n  }\n}",
    ),
]

COMMENT_CASES = [
    (
        "a comment at the end of a line travels with its clause",
        "principle p { rule r {\n  when a  # why a\n  kind note # a note\n} }",
        "principle p {\n  rule r {\n    kind note  # a note\n    when a  # why a\n  }\n}",
    ),
    (
        "a comment on its own line goes before the next clause",
        "principle p { rule r {\n  # the condition\n  when a\n  # the kind\n  kind note\n} }",
        "principle p {\n  rule r {\n    # the kind\n    kind note\n    # the condition\n"
        "    when a\n  }\n}",
    ),
    (
        "a comment inside a clause goes before it",
        "define d =\n  # explained\n  a",
        "# explained\ndefine d = a",
    ),
    (
        "comments before a closing brace stay inside the block",
        "principle p {\n  rule r {\n    kind note\n    # end of rule\n  }\n  # end of principle\n}",
        "principle p {\n  rule r {\n    kind note\n    # end of rule\n  }\n  # end of principle\n}",
    ),
    (
        "a comment between operands keeps the condition broken there",
        "define d = a  # first\n  and b",
        "define d = a  # first\n  and b",
    ),
    (
        "comments of lines that join: the last stays at the end, the others go before",
        "principle p { rule r { severity high # one\n  if a # two\n  else low # three\n} }",
        "principle p {\n  rule r {\n    # one\n    # two\n"
        "    severity high if a else low  # three\n  }\n}",
    ),
    (
        "the file's header stays on top; a comment at the end stays at the end",
        "# header\n\n# about p\nprinciple p {\n}\nparam a = 1\n# the end\n",
        "# header\n\nparam a = 1\n\n# about p\nprinciple p {\n}\n\n# the end",
    ),
    (
        "a declaration with a comment stands apart from the one before",
        "param a = 1\n# b is special\nparam b = 2\nparam c = 3",
        "param a = 1\n\n# b is special\nparam b = 2\nparam c = 3",
    ),
    (
        "Japanese comments and texts",
        'principle p { title ja "人間の尊厳" # 題名\n}',
        'principle p {\n  title ja "人間の尊厳"  # 題名\n}',
    ),
]


@pytest.mark.parametrize(
    ("note", "source", "expected"), CASES + COMMENT_CASES, ids=[c[0] for c in CASES + COMMENT_CASES]
)
def test_canonical_layout(note: str, source: str, expected: str) -> None:
    formatted = format_text(source)
    assert formatted == expected + "\n", note
    assert parse(formatted) == parse(source)
    assert format_text(formatted) == formatted
    comments = [c.text for c in parse_with_comments(source)[1]]
    assert [c.text for c in parse_with_comments(formatted)[1]] == sorted(
        comments, key=formatted.index
    )


def test_an_empty_file_stays_empty() -> None:
    assert format_text("") == ""
    assert format_text("  \n\n") == ""
    assert format_text("# only a comment\n") == "# only a comment\n"


def test_a_syntax_error_raises_with_a_located_diagnostic() -> None:
    with pytest.raises(BcmError) as caught:
        format_text("principle p {\n  rule r { when a = 1 }\n}\n", "bad.bcm")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code.startswith("S")
    assert diagnostic.span is not None
    assert str(diagnostic.span) == "bad.bcm:2:19"


DEFAULT_PACK = sorted((REPO / "rules").glob("*.bcm"))


@pytest.mark.parametrize("path", DEFAULT_PACK, ids=[p.name for p in DEFAULT_PACK])
def test_the_default_pack_keeps_its_meaning_and_comments(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    formatted = format_text(source, str(path))
    assert parse(formatted) == parse(source)
    assert format_text(formatted) == formatted
    before = [c.text for c in parse_with_comments(source)[1]]
    after = [c.text for c in parse_with_comments(formatted)[1]]
    assert sorted(after) == sorted(before)


# --- files and the command ------------------------------------------------------------------

UGLY = "principle p {rule r {kind note when a}}\n"
PRETTY = "principle p {\n  rule r {\n    kind note\n    when a\n  }\n}\n"


def _pack(tmp_path: Path) -> Path:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "nested").mkdir()
    (tmp_path / "pack" / "a.bcm").write_text(UGLY, encoding="utf-8")
    (tmp_path / "pack" / "b.bcm").write_text(PRETTY, encoding="utf-8")
    (tmp_path / "pack" / "nested" / "c.bcm").write_text(UGLY, encoding="utf-8")
    (tmp_path / "pack" / "notes.txt").write_text(UGLY, encoding="utf-8")
    return tmp_path / "pack"


def test_rule_files_are_found_in_folders_recursively_in_name_order(tmp_path: Path) -> None:
    pack = _pack(tmp_path)
    found = rule_files([pack, pack / "a.bcm"])
    assert found == [pack / "a.bcm", pack / "b.bcm", pack / "nested" / "c.bcm"]


def test_check_reports_files_that_would_change_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _pack(tmp_path)
    assert main(["fmt", "--check", str(pack)]) == 1
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"would reformat {pack / 'a.bcm'}",
        f"would reformat {pack / 'nested' / 'c.bcm'}",
    ]
    assert (pack / "a.bcm").read_text(encoding="utf-8") == UGLY  # --check writes nothing


def test_check_exits_0_when_everything_is_canonical(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _pack(tmp_path)
    assert main(["fmt", "--check", str(pack / "b.bcm")]) == 0
    assert capsys.readouterr().out == ""


def test_fmt_rewrites_only_the_files_that_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _pack(tmp_path)
    untouched = pack / "b.bcm"
    os.utime(untouched, (1_000_000_000, 1_000_000_000))
    assert main(["fmt", str(pack)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"reformatted {pack / 'a.bcm'}",
        f"reformatted {pack / 'nested' / 'c.bcm'}",
    ]
    assert (pack / "a.bcm").read_text(encoding="utf-8") == PRETTY
    assert untouched.stat().st_mtime == 1_000_000_000
    assert sorted(p.name for p in pack.iterdir()) == ["a.bcm", "b.bcm", "nested", "notes.txt"]
    assert main(["fmt", "--check", str(pack)]) == 0


def test_a_syntax_error_is_rendered_and_exits_2_leaving_the_file_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pack = _pack(tmp_path)
    bad = pack / "bad.bcm"
    bad.write_text('principle p {\n  title en "x"\n  rule r { when a = 1 }\n', encoding="utf-8")
    assert main(["fmt", str(pack)]) == 2
    out = capsys.readouterr().out
    assert f"--> {bad}:3:" in out
    assert "3 |   rule r { when a = 1 }" in out
    assert f"reformatted {pack / 'a.bcm'}" in out  # the other files are still formatted
    assert bad.read_text(encoding="utf-8").startswith("principle p {\n  title")
    assert main(["fmt", "--check", str(bad)]) == 2


def test_a_missing_path_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", str(tmp_path / "nowhere")]) == 2
    assert "no such file or folder" in capsys.readouterr().out


def test_format_file_keeps_japanese_and_drops_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "ja.bcm"
    path.write_bytes(b"\xef\xbb\xbf" + 'principle p {title ja "尊厳"} # 終わり\n'.encode())
    outcome = format_file(path)
    assert outcome.changed
    assert path.read_bytes() == 'principle p {\n  title ja "尊厳"\n}  # 終わり\n'.encode()
