"""What each format shows a reader, on hand-made reports: the balance profile, Japanese dates,
colour only on a terminal, escaping, JUnit's pass/fail per rule, SARIF against its schema."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checker.diagnostics import Diagnostic, Level, Span
from checker.documents import EngineInfo, Finding, PackInfo, PolicyChange, Report
from checker.i18n import format_date
from checker.report import (
    FORMATS,
    ReportContext,
    RuleEntry,
    principle_states,
    render,
    render_text,
    source_location,
)
from checker.report_html import render_html
from checker.sarif import artifact_uri, diagnostics_sarif, findings_sarif

SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0.json").read_text(encoding="utf-8"))
PACK = PackInfo(name="test-pack", version="1.0.0", hash="sha256:" + "ab" * 32)
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def finding(rule: str, kind: str, principle: str, **extra: Any) -> Finding:
    data: dict[str, Any] = {
        "kind": kind,
        "principle": principle,
        "rule": rule,
        "severity": "high",
        "message": f"{rule} fired.",
        "remedy": f"Fix {rule}.",
        "source": f"rules/{principle}.bcm:10:3",
    }
    data.update(extra)
    return Finding.model_validate(data)


def report(*findings: Finding, lang: str = "en", proposal: str = "P-1") -> Report:
    return Report(
        proposal=proposal,
        findings=list(findings),
        pack=PACK,
        lang=lang,
        engine=EngineInfo(),
        params={"reversal_window": "1461 days"},
    )


def proposal(id: str = "P-1", **extra: Any) -> PolicyChange:
    data: dict[str, Any] = {
        "id": id,
        "title": "Restrict something",
        "jurisdiction": "JP",
        "area": "entry_stay",
        "target": "students",
        "direction": "restrict",
        "magnitude": "major",
        "instrument": "act",
        "legal_basis": [],
        "effective_on": "2021-04-01",
    }
    data.update(extra)
    return PolicyChange.model_validate(data)


def enacted(id: str, effective_on: str, direction: str) -> PolicyChange:
    return proposal(id, effective_on=effective_on, direction=direction, status="enacted")


RULES = (
    RuleEntry("legal_basis_required", "legal_integrity", "conflict", "rules/legal.bcm:20:3"),
    RuleEntry("unprincipled_reversal", "normative_coherence", "reversal", "rules/nc.bcm:53:3"),
    RuleEntry("capacity_margin", "integration_capacity", "tension", "rules/ic.bcm:47:3"),
    RuleEntry("no_stated_principle", "normative_coherence", "note", "rules/nc.bcm:166:3"),
)

# --- the balance profile ----------------------------------------------------------------------

PROFILE_CASES = [
    # (findings as (kind, principle), the principles not consistent, note)
    ([], {}, "no finding: all six consistent"),
    ([("note", "social_stability")], {}, "a note breaks nothing"),
    ([("tension", "human_dignity")], {"human_dignity": "tension"}, "a tension"),
    ([("reversal", "normative_coherence")], {"normative_coherence": "conflict"}, "a reversal"),
    (
        [("tension", "legal_integrity"), ("conflict", "legal_integrity")],
        {"legal_integrity": "conflict"},
        "the worst finding of a principle decides",
    ),
    (
        [("conflict", "economic_rationality"), ("tension", "integration_capacity")],
        {"economic_rationality": "conflict", "integration_capacity": "tension"},
        "each principle on its own",
    ),
]


@pytest.mark.parametrize(
    ("found", "expected", "note"), PROFILE_CASES, ids=[c[2] for c in PROFILE_CASES]
)
def test_balance_profile_states(
    found: list[tuple[str, str]], expected: dict[str, str], note: str
) -> None:
    states = principle_states(report(*(finding(f"r{n}", k, p) for n, (k, p) in enumerate(found))))
    assert list(states) == [
        "integration_capacity",
        "legal_integrity",
        "economic_rationality",
        "social_stability",
        "human_dignity",
        "normative_coherence",
    ]
    assert {p: s.value for p, s in states.items() if s.value != "consistent"} == expected


# --- text -------------------------------------------------------------------------------------


def test_text_is_plain_unless_coloured_for_a_terminal() -> None:
    r = report(finding("legal_basis_required", "conflict", "legal_integrity"))
    plain = render_text(r)
    coloured = render_text(r, colour=True)
    assert not ANSI.search(plain)
    assert ANSI.search(coloured)
    assert ANSI.sub("", coloured) == plain
    assert "Verdict: CONFLICT" in plain


def test_japanese_dates_in_text_and_iso_in_json() -> None:
    r = report(
        finding("unprincipled_reversal", "reversal", "normative_coherence",
                evidence={"prior.effective_on": "2019-04-01"}),
        lang="ja",
    )  # fmt: skip
    context = ReportContext(lang="ja", proposals={"P-1": proposal()})
    text = render("text", [r], context)
    assert "prior.effective_on = 2019年4月1日" in text
    assert "施行予定日: 2021年4月1日" in text
    assert "2019年4月1日" in render("md", [r], context)
    assert "2019年4月1日" in render("html", [r], context)
    data = json.loads(render("json", [r], context))
    assert data["findings"][0]["evidence"] == {"prior.effective_on": "2019-04-01"}


@pytest.mark.parametrize(
    ("value", "lang", "shown"),
    [
        (dt.date(2019, 4, 1), "ja", "2019年4月1日"),
        ("2019-04-01", "ja", "2019年4月1日"),
        ("2019-04-01", "en", "2019-04-01"),
        (dt.date(2024, 12, 31), "en", "2024-12-31"),
        ("JP-2019-SSW", "ja", "JP-2019-SSW"),  # not a date: as written
    ],
)
def test_dates_as_the_reader_expects(value: dt.date | str, lang: str, shown: str) -> None:
    assert format_date(value, lang) == shown


def test_parameters_in_evidence_are_shown_as_the_pack_writes_them() -> None:
    r = report(finding("unprincipled_reversal", "reversal", "normative_coherence",
                       evidence={"reversal_window": 1461, "gap": 730}))  # fmt: skip
    text = render_text(r)
    assert "reversal_window = 1461 days" in text
    assert "gap = 730" in text


def test_many_reports_end_with_the_summary_table() -> None:
    reports = [
        report(finding("a", "conflict", "legal_integrity"), proposal="P-1"),
        report(proposal="P-2"),
    ]
    text = render("text", reports, ReportContext())
    tail = text.rstrip().splitlines()[-4:]
    assert tail[0].split() == ["Proposal", "Verdict", "conflict", "reversal", "tension", "note"]
    assert tail[2].split() == ["P-1", "conflict", "1", "0", "0", "0"]
    assert tail[3].split() == ["P-2", "consistent", "0", "0", "0", "0"]


# --- Markdown and HTML ------------------------------------------------------------------------


def test_markdown_tables_survive_pipes_and_line_breaks() -> None:
    r = report(finding("a", "conflict", "legal_integrity", evidence={"x": "a|b\nc"}))
    md = render("md", [r], ReportContext())
    assert "| `x` | a\\|b c |" in md


def test_markdown_of_many_reports_starts_with_the_summary() -> None:
    reports = [
        report(proposal="P-1"),
        report(finding("a", "tension", "human_dignity"), proposal="P-2"),
    ]
    md = render("md", reports, ReportContext())
    assert md.index("## Summary") < md.index("## Consistency report: P-1")
    assert "| P-2 | tension | 0 | 0 | 1 | 0 |" in md


HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


def test_html_escapes_every_text_from_documents_and_rules() -> None:
    r = report(finding("a", "conflict", "legal_integrity", message=HOSTILE, remedy=HOSTILE,
                       evidence={HOSTILE: HOSTILE}, related=[HOSTILE]))  # fmt: skip
    context = ReportContext(proposals={"P-1": proposal(title=HOSTILE, legal_basis=[HOSTILE])})
    page = render_html([r], context)
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img" in page


def test_html_is_self_contained() -> None:
    history = [enacted("H-1", "2015-04-01", "expand"), enacted("H-2", "2018-04-01", "expand")]
    context = ReportContext(proposals={"P-1": proposal()}, history=tuple(history))
    page = render_html([report(finding("a", "reversal", "normative_coherence"))], context)
    # Nothing to fetch: no script, no external stylesheet, image or font.
    assert "<script" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "@import" not in page and "url(" not in page
    assert page.count("<svg") == 2


def test_html_of_many_reports_has_a_summary_page_and_a_page_each() -> None:
    reports = [report(proposal="P-1"), report(proposal="P-2"), report(proposal="P-3")]
    page = render_html(reports, ReportContext())
    ids = re.findall(r'<section class="sheet" id="([^"]+)"', page)
    assert ids == ["summary", "report-P-1", "report-P-2", "report-P-3"]
    assert ".sheet + .sheet { break-before: page; }" in page
    assert "@page { size: A4;" in page


def test_the_trajectory_places_the_proposal_after_the_records_of_its_scope() -> None:
    from checker.report_html import place_proposal

    history = [
        enacted("H-1", "2015-04-01", "expand"),
        enacted("H-2", "2018-04-01", "expand"),
        enacted("H-LATER", "2022-04-01", "restrict"),  # after the proposal: not seen
        proposal("H-OTHER", effective_on="2016-04-01", target="trainees", status="enacted"),
    ]
    placed = place_proposal(proposal(), history)
    assert [c.record.id for c in placed.before] == ["H-1", "H-2"]
    assert placed.proposal.record.id == "P-1"
    assert placed.proposal.reversal  # the proposal restricts after two expansions
    assert placed.proposal.level == placed.before[-1].level + placed.proposal.step


# --- JUnit ------------------------------------------------------------------------------------


def _junit(reports: list[Report], fail_on_tension: bool = False) -> ET.Element:
    text = render("junit", reports, ReportContext(rules=RULES), fail_on_tension=fail_on_tension)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    return ET.fromstring(text)


def test_junit_has_a_case_per_rule_and_fails_conflicts_and_reversals() -> None:
    r = report(
        finding("legal_basis_required", "conflict", "legal_integrity"),
        finding("unprincipled_reversal", "reversal", "normative_coherence"),
        finding("capacity_margin", "tension", "integration_capacity"),
    )
    suite = _junit([r]).find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("tests"), suite.get("failures")) == ("P-1", "4", "2")
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert list(cases) == [r.id for r in RULES]
    failure = cases["legal_basis_required"].find("failure")
    assert failure is not None and failure.get("type") == "conflict"
    assert failure.get("message") == "legal_basis_required fired."
    assert "Remedy: Fix legal_basis_required." in (failure.text or "")
    assert cases["legal_basis_required"].get("file") == "rules/legal.bcm"
    assert cases["legal_basis_required"].get("line") == "20"
    # A tension passes, and says what it found.
    assert cases["capacity_margin"].find("failure") is None
    assert "[tension] capacity_margin fired." in (
        cases["capacity_margin"].findtext("system-out") or ""
    )
    assert list(cases["no_stated_principle"]) == []


def test_junit_fails_tensions_when_the_pipeline_fails_on_tension() -> None:
    r = report(finding("capacity_margin", "tension", "integration_capacity"))
    suite = _junit([r], fail_on_tension=True).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"


def test_junit_carries_no_character_xml_cannot_hold() -> None:
    r = report(
        finding("legal_basis_required", "conflict", "legal_integrity", message="bad\x01byte")
    )
    failure = _junit([r]).find(".//failure")
    assert failure is not None and failure.get("message") == "bad\ufffdbyte"


# --- SARIF ------------------------------------------------------------------------------------


def _valid(log: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


def test_the_shipped_schema_rejects_what_is_not_sarif() -> None:
    log = findings_sarif([report(finding("a", "conflict", "legal_integrity"))], ReportContext())
    assert _valid(log) == []
    del log["runs"][0]["tool"]
    log["runs"][0]["results"][0]["level"] = "fatal"
    problems = _valid(log)
    assert any("'tool' is a required property" in p for p in problems)
    assert any("'fatal' is not one of" in p for p in problems)


def test_findings_sarif_points_at_the_rule_and_names_the_proposal() -> None:
    r = report(finding("legal_basis_required", "conflict", "legal_integrity",
                       source="rules/legal.bcm:20:3"), lang="ja")  # fmt: skip
    context = ReportContext(lang="ja", rules=RULES, files={"P-1": "proposals/p 1.json"})
    log = findings_sarif([r], context)
    assert _valid(log) == []
    run = log["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    [result] = run["results"]
    assert result["ruleId"] == "legal_basis_required"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "legal_basis_required"
    assert result["level"] == "error"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "rules/legal.bcm"
    assert location["region"] == {"startLine": 20, "startColumn": 3}
    assert result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"] == (
        "proposals/p%201.json"
    )
    assert (
        result["message"]["text"]
        == "P-1: legal_basis_required fired. 改善策: Fix legal_basis_required."
    )


@pytest.mark.parametrize(
    ("kind", "level"),
    [("conflict", "error"), ("reversal", "error"), ("tension", "warning"), ("note", "note")],
)
def test_sarif_level_follows_the_kind(kind: str, level: str) -> None:
    log = findings_sarif([report(finding("a", kind, "legal_integrity"))], ReportContext())
    assert log["runs"][0]["results"][0]["level"] == level


def test_lint_diagnostics_as_sarif() -> None:
    diagnostics = [
        Diagnostic("E101", "`legal_integrety` is not a principle",
                   Span("rules/x.bcm", 2, 11, 2, 26), help="did you mean `legal_integrity`?"),
        Diagnostic("W201", "rules lack `ja`", Span("rules/規則.bcm", 1, 1, 1, 2),
                   level=Level.warning),
        Diagnostic("P001", "cannot read `nowhere`"),
    ]  # fmt: skip
    log = diagnostics_sarif(diagnostics)
    assert _valid(log) == []
    results = log["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["E101", "W201", "P001"]
    assert [r["level"] for r in results] == ["error", "warning", "error"]
    assert results[0]["message"]["text"] == (
        "`legal_integrety` is not a principle\nhelp: did you mean `legal_integrity`?"
    )
    assert results[0]["locations"][0]["physicalLocation"]["region"] == {
        "startLine": 2, "startColumn": 11, "endLine": 2, "endColumn": 26,
    }  # fmt: skip
    uri = results[1]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "rules/%E8%A6%8F%E5%89%87.bcm"
    assert "locations" not in results[2]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("rules/a.bcm", "rules/a.bcm"),
        ("/home/me/rules/a b.bcm", "file:///home/me/rules/a%20b.bcm"),
        ("rules\\a.bcm", "rules/a.bcm"),
    ],
)
def test_artifact_uris(path: str, uri: str) -> None:
    assert artifact_uri(path) == uri


@pytest.mark.parametrize(
    ("source", "parts"),
    [
        ("rules/a.bcm:12:3", ("rules/a.bcm", 12, 3)),
        ("C:/packs/a.bcm:7:1", ("C:/packs/a.bcm", 7, 1)),
        ("rules/a.bcm", ("rules/a.bcm", 1, 1)),
    ],
)
def test_rule_source_locations(source: str, parts: tuple[str, int, int]) -> None:
    assert source_location(source) == parts


def test_an_unknown_format_is_named() -> None:
    with pytest.raises(ValueError, match="unknown report format 'pdf'; known: text, json"):
        render("pdf", [report()], ReportContext())
    assert FORMATS == ("text", "json", "md", "html", "sarif", "junit")


@pytest.mark.parametrize("show", [True, False])
def test_the_progress_bar_hands_on_every_proposal_in_order(show: bool) -> None:
    from checker.report import progress

    assert list(progress(["P-1", "P-2", "P-3"], "ja", show=show)) == ["P-1", "P-2", "P-3"]


EDGE_HISTORIES = {
    "no history": [],
    "a record on the proposal's own date": [enacted("H-SAME", "2021-04-01", "expand")],
    "a neutral record only": [enacted("H-N", "2020-04-01", "neutral")],
    "centuries of records": [
        enacted(f"H-{y}", f"{y}-04-01", "expand") for y in range(1700, 2021, 5)
    ],
}


@pytest.mark.parametrize("format", FORMATS)
@pytest.mark.parametrize("history", list(EDGE_HISTORIES))
def test_every_format_renders_a_neutral_proposal_whatever_its_history(
    format: str, history: str
) -> None:
    context = ReportContext(
        lang="ja",
        proposals={"P-1": proposal(direction="neutral")},
        history=tuple(EDGE_HISTORIES[history]),
        rules=RULES,
    )
    text = render(format, [report(lang="ja")], context)
    assert "P-1" in text
    if format == "html":
        assert 'id="trajectory-chart"' in text
        assert "H-SAME" not in text  # effective the same day: not before the proposal
