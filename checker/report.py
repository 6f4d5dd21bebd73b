"""Reports as people read them (text) and as programs read them (JSON).

The content is the `Report` model; these functions only lay it out, in English or Japanese.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from checker.documents import FindingKind, Report
from checker.i18n import word


def to_json(reports: Report | Sequence[Report]) -> str:
    """One report as an object, several as an array, in the order given; byte-stable."""
    if isinstance(reports, Report):
        data: Any = reports.to_dict()
    else:
        data = [r.to_dict() for r in reports]
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


def _evidence_text(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_evidence_text(v) for v in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def counts(report: Report) -> Counter[str]:
    return Counter(f.kind.value for f in report.findings)


def render_text(report: Report, titles: Mapping[str, str] | None = None) -> str:
    """A plain-text report: the verdict first, then one block per finding."""
    lang = report.lang
    titles = titles or {}
    out: list[str] = []
    heading = f"{word('report', lang)}: {report.proposal}"
    out.append(heading)
    out.append("=" * min(len(heading) * (2 if lang == "ja" else 1), 78))
    tally = counts(report)
    parts = [
        f"{tally[k.value]} {word('kind.' + k.value, lang)}" for k in FindingKind if tally[k.value]
    ]
    verdict = word("verdict." + report.verdict.value, lang)
    out.append(f"{word('verdict', lang)}: {verdict.upper() if lang == 'en' else verdict}")
    if parts:
        out.append(("、" if lang == "ja" else ", ").join(parts))
    out.append("")
    if not report.findings:
        out.append(word("no_findings", lang))
    for n, f in enumerate(report.findings, start=1):
        principle = titles.get(f.principle.value, f.principle.value)
        out.append(
            f"{n}. [{word('kind.' + f.kind.value, lang)} · "
            f"{word('severity.' + f.severity.value, lang)}] {principle} / {f.rule}"
        )
        out.append(f"   {f.message}")
        out.append(f"   {word('remedy', lang)}: {f.remedy}")
        if f.evidence:
            out.append(f"   {word('evidence', lang)}:")
            for key, value in f.evidence.items():
                out.append(f"     {key} = {_evidence_text(value)}")
        if f.related:
            out.append(f"   {word('related', lang)}: {', '.join(f.related)}")
        out.append(f"   {word('source', lang)}: {f.source}")
        out.append("")
    engine = report.engine.name
    if report.engine.reason:
        engine += f" ({word('fallback', lang)}: {report.engine.reason})"
    out.append(
        f"{word('pack', lang)}: {report.pack.name} {report.pack.version} ({report.pack.hash[:19]}) · "
        f"{word('engine', lang)}: {engine}"
    )
    return "\n".join(out) + "\n"


def render_summary(reports: Sequence[Report], lang: str) -> str:
    """One line per proposal: verdict and counts by kind."""
    kinds = [k.value for k in FindingKind]
    header = [word("proposal", lang), word("verdict", lang), *(word("kind." + k, lang) for k in kinds)]
    rows = [header]
    for r in reports:
        tally = counts(r)
        rows.append([r.proposal, word("verdict." + r.verdict.value, lang), *(str(tally[k]) for k in kinds)])
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(cell + " " * (widths[j] - _width(cell)) for j, cell in enumerate(row)).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
