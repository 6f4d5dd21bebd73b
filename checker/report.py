"""Reports as people read them (text) and as programs read them (JSON), and what every format
shares: the context a report is shown in, the balance profile, and the choice of format.

The content is the `Report` model; the renderers only lay it out, in English or Japanese:
text and JSON here, Markdown in `report_md`, HTML in `report_html`, SARIF in `sarif`, JUnit XML
in `junit`. The same reports in the same context give byte-identical output in every format.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from checker.documents import (
    Finding,
    FindingKind,
    PolicyChange,
    PrincipleId,
    Report,
    Verdict,
    verdict_of,
)
from checker.i18n import format_date, term, word

if TYPE_CHECKING:
    from checker.api import Pack
    from checker.lang.checked import CheckedPack

T = TypeVar("T")

FORMATS = ("text", "json", "md", "html", "sarif", "junit")

# Kinds that fail a proposal (the verdict `conflict`), and that `--fail-on tension` adds to.
FAILING_KINDS = frozenset({FindingKind.conflict, FindingKind.reversal})


# --- what a report is shown with ------------------------------------------------------------


@dataclass(frozen=True)
class RuleEntry:
    """One rule of the pack as the reports name it: JUnit has a test case per rule, SARIF a
    rule descriptor, and both point at where it is written."""

    id: str
    principle: str
    kind: str
    source: str  # "rules/normative_coherence.bcm:53:3", as in a finding
    summary: str = ""  # what the rule detects, in the report's language

    @property
    def file(self) -> str:
        return source_location(self.source)[0]

    @property
    def line(self) -> int:
        return source_location(self.source)[1]


def source_location(source: str) -> tuple[str, int, int]:
    """`file:line:col` split into its parts (a file name may itself hold colons)."""
    file, _, rest = source.rpartition(":")
    path, _, line = file.rpartition(":")
    if path and line.isdigit() and rest.isdigit():
        return path, int(line), int(rest)
    if file and rest.isdigit():
        return file, int(rest), 1
    return source, 1, 1


@dataclass(frozen=True)
class ReportContext:
    """What the richer formats show beside the reports of one run: principle titles and rules
    of the pack, the proposal documents (title, scope, dates) and the history (the trajectory).

    Everything is optional: a format shows what it is given and leaves the rest out.
    """

    lang: str = "en"
    titles: Mapping[str, str] = field(default_factory=dict)
    rules: tuple[RuleEntry, ...] = ()
    proposals: Mapping[str, PolicyChange] = field(default_factory=dict)
    history: tuple[PolicyChange, ...] = ()
    # proposal id -> the file it was read from, for SARIF's related locations
    files: Mapping[str, str] = field(default_factory=dict)
    # the folder that rule sources (`rules/x.bcm:12:3`) are relative to: the pack's parent
    source_base: str = ""

    @classmethod
    def of_checked(
        cls,
        pack: CheckedPack,
        lang: str,
        proposals: Iterable[PolicyChange] = (),
        history: Iterable[PolicyChange] = (),
        files: Mapping[str, str] | None = None,
    ) -> ReportContext:
        from checker.docsgen import prose

        titles: dict[str, str] = {}
        for pid, principle in pack.principles.items():
            by_lang = {t.lang: t.text for t in principle.titles}
            titles[pid] = by_lang.get(lang) or by_lang.get("en") or pid
        rules = []
        for info in pack.rules:
            detects = {
                s.lang: s.text
                for s in (info.rule.about.sections if info.rule.about else ())
                if s.name == "detects"
            }
            summary = detects.get(lang) or detects.get("en") or ""
            rules.append(RuleEntry(info.id, info.principle, info.kind, info.source, prose(summary)))
        return cls(
            lang=lang,
            titles=titles,
            rules=tuple(rules),
            proposals={p.id: p for p in proposals},
            history=tuple(history),
            files=dict(files or {}),
            source_base=os.path.dirname(os.path.normpath(pack.root)),
        )

    @classmethod
    def of_pack(
        cls,
        pack: Pack,
        lang: str,
        proposals: Iterable[PolicyChange] = (),
        history: Iterable[PolicyChange] = (),
        files: Mapping[str, str] | None = None,
    ) -> ReportContext:
        return cls.of_checked(pack.checked, lang, proposals, history, files)

    def title_of(self, principle: str) -> str:
        return self.titles.get(principle, principle)

    def proposal_title(self, proposal: PolicyChange) -> str:
        """The proposal's title in the report's language: a document may carry a translation
        of its one-line title as `extensions.title_<lang>` (as the examples do)."""
        translated = proposal.extensions.get(f"title_{self.lang}")
        return translated if isinstance(translated, str) and translated.strip() else proposal.title


# --- what every format computes the same way ------------------------------------------------


def counts(report: Report) -> Counter[str]:
    return Counter(f.kind.value for f in report.findings)


def principle_states(report: Report) -> dict[str, Verdict]:
    """The balance profile: each of the six principles, consistent, in tension or in conflict,
    by the same rule as the verdict applied to that principle's findings alone."""
    by_principle: dict[str, list[Finding]] = {p.value: [] for p in PrincipleId}
    for f in report.findings:
        by_principle[f.principle.value].append(f)
    return {p: verdict_of(found) for p, found in by_principle.items()}


def findings_of(report: Report, principle: str) -> list[Finding]:
    return [f for f in report.findings if f.principle.value == principle]


def evidence_text(
    value: Any, lang: str, key: str = "", params: Mapping[str, Any] | None = None
) -> str:
    """An evidence value as a reader of `lang` expects it.

    A parameter is shown as the pack writes it (`90%`, `1461 days`), not as the ratio the rules
    compute with; dates (ISO text in a report) as `2019年4月1日` in Japanese.
    """
    if params and key in params and not isinstance(value, list | dict):
        return str(params[key])
    if isinstance(value, list):
        return "[" + ", ".join(evidence_text(v, lang) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{k}: {evidence_text(v, lang)}" for k, v in value.items())
        return "{" + inner + "}"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return format_date(value, lang)
    return str(value)


def scope_text(proposal: PolicyChange, lang: str) -> str:
    return " / ".join(
        [
            proposal.jurisdiction,
            term("area", proposal.area.value, lang),
            term("target", proposal.target, lang),
        ]
    )


def change_text(proposal: PolicyChange, lang: str) -> str:
    """`expand, major (act)` / `拡大・大規模（法律）`."""
    direction = term("direction", proposal.direction.value, lang)
    magnitude = term("magnitude", proposal.magnitude.value, lang)
    instrument = term("instrument", proposal.instrument.value, lang)
    if lang == "ja":
        return f"{direction}・{magnitude}（{instrument}）"
    return f"{direction}, {magnitude} ({instrument})"


def engine_text(report: Report, lang: str) -> str:
    engine = report.engine.name
    if report.engine.reason:
        engine += f" ({word('fallback', lang)}: {report.engine.reason})"
    return engine


def pack_text(report: Report) -> str:
    return f"{report.pack.name} {report.pack.version} ({report.pack.hash[:19]})"


def tally_text(report: Report, lang: str) -> str:
    """`3 conflict, 1 reversal` / `抵触 3件、原則なき反転 1件`; empty without findings."""
    tally = counts(report)
    if lang == "ja":
        parts = [
            f"{word('kind.' + k.value, lang)} {tally[k.value]}件" for k in FindingKind if tally[k]
        ]
        return "、".join(parts)
    parts = [f"{tally[k.value]} {word('kind.' + k.value, lang)}" for k in FindingKind if tally[k]]
    return ", ".join(parts)


# --- JSON -----------------------------------------------------------------------------------


def to_json(reports: Report | Sequence[Report]) -> str:
    """One report as an object, several as an array, in the order given; byte-stable."""
    if isinstance(reports, Report):
        data: Any = reports.to_dict()
    else:
        data = [r.to_dict() for r in reports]
    return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False) + "\n"


# --- text -----------------------------------------------------------------------------------

_VERDICT_STYLE = {
    Verdict.consistent: "bold green",
    Verdict.tension: "bold yellow",
    Verdict.conflict: "bold red",
}
_KIND_STYLE = {
    FindingKind.conflict: "red",
    FindingKind.reversal: "magenta",
    FindingKind.tension: "yellow",
    FindingKind.note: "cyan",
}
_STATE_MARK = {Verdict.consistent: "✓", Verdict.tension: "△", Verdict.conflict: "✗"}


class _Lines:
    """Lines of a text report with styles on some of their pieces: printed plain into files
    and pipes, in colour (rich) on a terminal."""

    def __init__(self) -> None:
        self.lines: list[list[tuple[str, str]]] = []

    def add(self, *pieces: str | tuple[str, str]) -> None:
        self.lines.append([p if isinstance(p, tuple) else (p, "") for p in pieces])

    def plain(self) -> str:
        return "\n".join("".join(text for text, _ in line) for line in self.lines) + "\n"

    def coloured(self) -> str:
        import io

        from rich.console import Console
        from rich.text import Text

        buffer = io.StringIO()
        console = Console(
            file=buffer, force_terminal=True, color_system="standard", soft_wrap=True, width=200
        )
        for line in self.lines:
            text = Text()
            for piece, style in line:
                text.append(piece, style=style or None)
            console.print(text)
        return buffer.getvalue()


def render_text(
    report: Report,
    titles: Mapping[str, str] | None = None,
    *,
    context: ReportContext | None = None,
    colour: bool = False,
) -> str:
    """A plain-text report: the verdict first, then the balance profile and one block per
    finding; ANSI colour with `colour` (for a terminal)."""
    lang = report.lang
    context = context or ReportContext(lang=lang, titles=titles or {})
    titles = titles or context.titles
    out = _Lines()
    heading = f"{word('report', lang)}: {report.proposal}"
    out.add((heading, "bold"))
    out.add("=" * min(_width(heading), 78))
    verdict = word("verdict." + report.verdict.value, lang)
    out.add(
        f"{word('verdict', lang)}: ",
        (verdict.upper() if lang == "en" else verdict, _VERDICT_STYLE[report.verdict]),
    )
    tally = tally_text(report, lang)
    if tally:
        out.add(tally)
    proposal = context.proposals.get(report.proposal)
    if proposal is not None:
        out.add("")
        out.add(context.proposal_title(proposal))
        # `Label: value` in both languages, as the verdict line that pipelines grep for.
        out.add(f"{word('scope', lang)}: {scope_text(proposal, lang)}")
        out.add(f"{word('change', lang)}: {change_text(proposal, lang)}")
        out.add(f"{word('effective_on', lang)}: {format_date(proposal.effective_on, lang)}")
    out.add("")
    out.add((f"{word('balance_profile', lang)}:", "bold"))
    states = principle_states(report)
    name_width = max(_width(titles.get(p, p)) for p in states)
    for principle, state in states.items():
        name = titles.get(principle, principle)
        out.add(
            "  ",
            name + " " * (name_width - _width(name)),
            "  ",
            (f"{_STATE_MARK[state]} {word('state.' + state.value, lang)}", _VERDICT_STYLE[state]),
        )
    out.add("")
    if not report.findings:
        out.add(word("no_findings", lang))
        out.add("")
    for n, f in enumerate(report.findings, start=1):
        principle = titles.get(f.principle.value, f.principle.value)
        out.add(
            f"{n}. [",
            (word("kind." + f.kind.value, lang), _KIND_STYLE[f.kind]),
            f" · {word('severity.' + f.severity.value, lang)}] {principle} / ",
            (f.rule, "bold"),
        )
        out.add(f"   {f.message}")
        out.add((f"   {word('remedy', lang)}: ", "bold"), f.remedy)
        if f.evidence:
            out.add(f"   {word('evidence', lang)}:")
            for key, value in f.evidence.items():
                out.add(f"     {key} = {evidence_text(value, lang, key, report.params)}")
        if f.related:
            out.add(f"   {word('related', lang)}: {', '.join(f.related)}")
        out.add((f"   {word('source', lang)}: {f.source}", "dim"))
        out.add("")
    out.add(
        (
            f"{word('pack', lang)}: {pack_text(report)} · "
            f"{word('engine', lang)}: {engine_text(report, lang)}",
            "dim",
        )
    )
    return out.coloured() if colour else out.plain()


def summary_rows(reports: Sequence[Report], lang: str) -> list[list[str]]:
    """The summary table, header first: proposal, verdict, counts by kind."""
    kinds = [k.value for k in FindingKind]
    rows = [
        [word("proposal", lang), word("verdict", lang), *(word("kind." + k, lang) for k in kinds)]
    ]
    for r in reports:
        tally = counts(r)
        rows.append(
            [r.proposal, word("verdict." + r.verdict.value, lang), *(str(tally[k]) for k in kinds)]
        )
    return rows


def render_summary(reports: Sequence[Report], lang: str) -> str:
    """One line per proposal: verdict and counts by kind."""
    rows = summary_rows(reports, lang)
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for i, row in enumerate(rows):
        cells = (cell + " " * (widths[j] - _width(cell)) for j, cell in enumerate(row))
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def _width(text: str) -> int:
    # East Asian wide characters take two cells in a terminal, so columns line up under them.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def progress(items: Sequence[T], lang: str, *, show: bool) -> Iterator[T]:
    """The items one by one, with a progress bar on standard error while they are worked
    through when `show` (a terminal: the bar would only litter a log)."""
    if not show:
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn(word("progress", lang)), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, TimeElapsedColumn(), console=Console(stderr=True), transient=True
    ) as bar:
        task = bar.add_task("", total=len(items))
        for item in items:
            yield item
            bar.advance(task)


# --- choosing a format ----------------------------------------------------------------------


def render(
    format: str,
    reports: Sequence[Report],
    context: ReportContext,
    *,
    as_list: bool | None = None,
    colour: bool = False,
    fail_on_tension: bool = False,
) -> str:
    """The reports of one run in a format of `FORMATS`.

    `as_list` makes JSON an array even for one report (several proposals were asked for);
    by default one report is an object. Text and Markdown end with the summary table when
    there are several reports; HTML puts it first.
    """
    if format == "json":
        many = len(reports) != 1 if as_list is None else as_list
        return to_json(list(reports) if many else reports[0])
    if format == "text":
        text = "\n".join(render_text(r, context=context, colour=colour) for r in reports)
        if len(reports) > 1:
            text += "\n" + render_summary(reports, context.lang)
        return text
    if format == "md":
        from checker.report_md import render_markdown

        return render_markdown(reports, context)
    if format == "html":
        from checker.report_html import render_html

        return render_html(reports, context)
    if format == "sarif":
        from checker.sarif import findings_sarif, sarif_json

        return sarif_json(findings_sarif(reports, context))
    if format == "junit":
        from checker.junit import render_junit

        return render_junit(reports, context, fail_on_tension=fail_on_tension)
    raise ValueError(f"unknown report format {format!r}; known: {', '.join(FORMATS)}")
