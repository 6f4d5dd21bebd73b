"""Reports as a Markdown document, ready to paste into a memo.

The same content as the text report, laid out with headings and tables. Several reports make
one document: the summary table first (a memo is read from the top), then one section each.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from checker.documents import Report
from checker.i18n import format_date, word
from checker.report import (
    ReportContext,
    change_text,
    engine_text,
    evidence_text,
    findings_of,
    pack_text,
    principle_states,
    scope_text,
    summary_rows,
    tally_text,
)

_STATE_MARK = {"consistent": "✓", "tension": "△", "conflict": "✗"}


def _text(text: str) -> str:
    # Text from a document or a pack shows as written: renderers that pass HTML through would
    # otherwise run a `<script>` in a proposal's title. Entities read as the characters.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    # A code span ends at the first run of backticks as long as its own: make it longer.
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    pad = " " if text[:1] == "`" or text[-1:] == "`" else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _cell(text: str) -> str:
    # A table cell is one line, and a pipe would end it.
    return " ".join(text.split()).replace("|", "\\|")


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    header, *body = rows
    lines = ["| " + " | ".join(_cell(c) for c in header) + " |"]
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines.extend("| " + " | ".join(_cell(c) for c in row) + " |" for row in body)
    return lines


def _colon(lang: str) -> str:
    return "：" if lang == "ja" else ": "


def _report(report: Report, context: ReportContext, level: int) -> list[str]:
    lang = report.lang
    h = "#" * level
    out = [f"{h} {word('report', lang)}{_colon(lang)}{_text(report.proposal)}", ""]
    verdict = word("verdict." + report.verdict.value, lang)
    verdict = verdict.upper() if lang == "en" else verdict
    out.append(f"**{word('verdict', lang)}{_colon(lang)}{verdict}**")
    out.append("")
    out.append(word(f"verdict.{report.verdict.value}.lead", lang))
    tally = tally_text(report, lang)
    if tally:
        out.append(f"({tally})" if lang == "en" else f"（{tally}）")
    out.append("")

    proposal = context.proposals.get(report.proposal)
    if proposal is not None:
        basis = ("、" if lang == "ja" else "; ").join(proposal.legal_basis) or word("none", lang)
        rows = [
            [word("proposal", lang), _code(proposal.id)],
            [word("title", lang), _text(context.proposal_title(proposal))],
            [word("scope", lang), _text(scope_text(proposal, lang))],
            [word("change", lang), change_text(proposal, lang)],
            [word("legal_basis", lang), _text(basis)],
            [word("effective_on", lang), format_date(proposal.effective_on, lang)],
        ]
        out.extend(_table(rows))
        out.append("")

    out.append(f"{h}# {word('balance_profile', lang)}")
    out.append("")
    rows = [[word("principle", lang), word("state", lang), word("findings", lang)]]
    for principle, state in principle_states(report).items():
        mark = _STATE_MARK[state.value]
        rows.append(
            [
                _text(context.title_of(principle)),
                f"{mark} {word('state.' + state.value, lang)}",
                str(len(findings_of(report, principle))),
            ]
        )
    out.extend(_table(rows))
    out.append("")

    out.append(f"{h}# {word('findings', lang)}")
    out.append("")
    if not report.findings:
        out.append(word("no_findings", lang))
        out.append("")
    for n, f in enumerate(report.findings, start=1):
        kind = word("kind." + f.kind.value, lang)
        severity = word("severity." + f.severity.value, lang)
        label = f"（{kind}・{severity}）" if lang == "ja" else f" ({kind}, {severity})"
        title = _text(context.title_of(f.principle.value))
        out.append(f"{h}## {n}. {title} / `{f.rule}`{label}")
        out.append("")
        out.append(_text(f.message))
        out.append("")
        out.append(f"**{word('remedy', lang)}**{_colon(lang)}{_text(f.remedy)}")
        out.append("")
        if f.evidence:
            rows = [[word("evidence", lang), word("value", lang)]]
            rows.extend(
                [_code(key), _text(evidence_text(value, lang, key, report.params))]
                for key, value in f.evidence.items()
            )
            out.extend(_table(rows))
            out.append("")
        if f.related:
            out.append(f"{word('related', lang)}{_colon(lang)}{_text(', '.join(f.related))}  ")
        out.append(f"{word('source', lang)}{_colon(lang)}{_code(f.source)}")
        out.append("")
    out.append(
        f"*{word('pack', lang)}{_colon(lang)}{_text(pack_text(report))} · "
        f"{word('engine', lang)}{_colon(lang)}{_text(engine_text(report, lang))}*"
    )
    out.append("")
    return out


def render_markdown(reports: Sequence[Report], context: ReportContext) -> str:
    """One report as a document; several under one title, the summary table first."""
    if len(reports) == 1:
        return "\n".join(_report(reports[0], context, 1))
    lang = context.lang
    out = [f"# {word('reports', lang)}", "", f"## {word('summary', lang)}", ""]
    out.extend(_table([[_text(cell) for cell in row] for row in summary_rows(reports, lang)]))
    out.append("")
    for report in reports:
        out.extend(_report(report, context, 2))
    return "\n".join(out)
