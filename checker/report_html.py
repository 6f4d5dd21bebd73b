"""Reports as one self-contained, printable HTML file.

What a scrivener hands to a client or a ministry official: the verdict as a banner, the
proposal, the balance profile (the six principles, each consistent, in tension or in conflict),
the trajectory of the proposal's scope with the proposal placed on it, then the findings. CSS
and charts are inline (SVG drawn here, text in the page's fonts so Japanese renders as the page
does), nothing is fetched, and the page prints on A4. Every text from a document or a rule pack
is escaped.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from checker.documents import PolicyChange, Report, Status, Verdict
from checker.i18n import format_date, term, word
from checker.report import (
    ReportContext,
    change_text,
    counts,
    engine_text,
    evidence_text,
    findings_of,
    pack_text,
    principle_states,
    scope_text,
    summary_rows,
)
from checker.trajectory import Change, trajectory

_MARK = {"consistent": "✓", "tension": "△", "conflict": "✗"}
_COLOUR = {"consistent": "#2e6b34", "tension": "#9a5b00", "conflict": "#a3221b", "note": "#3d4f66"}
_TINT = {"consistent": "#e4f1e4", "tension": "#fbecd3", "conflict": "#f8dedb", "note": "#e5eaf1"}
_KIND_STATE = {"conflict": "conflict", "reversal": "conflict", "tension": "tension", "note": "note"}


_CSS = """
@page { size: A4; margin: 16mm 15mm 16mm 15mm; }
:root {
  --ink: #1b2430; --muted: #5b6573; --rule: #c9d0da; --navy: #1d3557; --paper: #ffffff;
  --sans: "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Kaku Gothic ProN", "Hiragino Sans",
          "Yu Gothic", "YuGothic", "Meiryo", "Source Han Sans JP", system-ui, sans-serif;
  --serif: "Noto Serif CJK JP", "Noto Serif JP", "Hiragino Mincho ProN", "Yu Mincho",
           "YuMincho", "Source Han Serif JP", "Times New Roman", serif;
  --mono: "DejaVu Sans Mono", "Consolas", "Menlo", monospace;
}
* { box-sizing: border-box; }
html { background: #eceff3; }
body { margin: 0; color: var(--ink); font: 10.5pt/1.6 var(--sans);
       -webkit-print-color-adjust: exact; print-color-adjust: exact; }
main { max-width: 210mm; margin: 0 auto; }
.sheet { background: var(--paper); padding: 14mm 15mm 12mm; margin: 8mm 0;
         box-shadow: 0 1px 4px rgba(0,0,0,.18); }
.sheet + .sheet { break-before: page; }
.masthead { display: flex; justify-content: space-between; align-items: baseline;
            border-bottom: 2.5px solid var(--navy); padding-bottom: 2mm; margin-bottom: 5mm; }
.masthead .doc { font: 600 9pt/1.3 var(--sans); letter-spacing: .08em; color: var(--navy);
                 text-transform: uppercase; }
.masthead .id { font: 9pt var(--mono); color: var(--muted); }
h1 { font: 700 17pt/1.35 var(--serif); margin: 0 0 4mm; color: var(--navy); }
h2 { font: 700 12pt/1.4 var(--sans); color: var(--navy); margin: 7mm 0 2.5mm;
     padding-bottom: 1mm; border-bottom: 1px solid var(--rule); break-after: avoid; }
.banner { display: flex; align-items: center; gap: 5mm; padding: 4mm 5mm; margin: 0 0 5mm;
          border: 1.5px solid currentColor; border-left-width: 7px; border-radius: 2px; }
.banner .mark { font: 700 24pt/1 var(--sans); width: 13mm; height: 13mm; border-radius: 50%;
                display: flex; align-items: center; justify-content: center;
                color: #fff; flex: none; }
.banner .label { font-size: 9pt; letter-spacing: .06em; color: var(--muted); }
.banner .verdict { font: 700 18pt/1.2 var(--sans); letter-spacing: .04em; }
.banner .lead { color: var(--ink); margin-top: 1mm; }
.banner .tally { margin-top: 1.5mm; display: flex; gap: 2mm; flex-wrap: wrap; }
.chip { display: inline-block; font-size: 8.5pt; padding: 0 2.2mm; border-radius: 8px;
        border: 1px solid currentColor; line-height: 1.7; white-space: nowrap; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 1.3mm 2.2mm; }
.facts th { width: 30mm; color: var(--muted); font-weight: 600; white-space: nowrap; }
.facts td, .facts th { border-bottom: 1px solid #e3e7ed; }
.facts tr:first-child th, .facts tr:first-child td { border-top: 1px solid var(--rule); }
.grid th { background: #eef1f5; color: var(--navy); font-weight: 600; white-space: nowrap;
           border-bottom: 1.5px solid var(--navy); }
.grid td.date, .grid td.num { white-space: nowrap; }
.summary th.num { width: 1%; }
.grid td { border-bottom: 1px solid #e3e7ed; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 0; break-inside: avoid; }
figcaption { font-size: 8.5pt; color: var(--muted); margin-top: 1.5mm; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: var(--sans); fill: var(--ink); }
.finding { border: 1px solid var(--rule); border-left: 5px solid currentColor;
           padding: 3mm 4mm; margin: 0 0 3.5mm; break-inside: avoid; }
.finding header { display: flex; gap: 2mm; align-items: baseline; flex-wrap: wrap;
                  margin-bottom: 1.5mm; }
.finding .no { font-weight: 700; color: var(--ink); }
.finding .where { color: var(--ink); font-weight: 600; }
.finding .msg { color: var(--ink); margin: 0 0 2mm; }
.remedy { background: #f3f6f9; border-left: 3px solid var(--navy); padding: 2mm 3mm;
          color: var(--ink); margin: 0 0 2mm; }
.remedy b { color: var(--navy); margin-right: 1.5mm; }
.evidence { font-size: 9pt; margin: 0 0 1.5mm; color: var(--ink); width: auto; min-width: 55%; }
.evidence th { color: var(--muted); font-weight: 600; border-bottom: 1px solid var(--rule); }
.evidence td { border-bottom: 1px dotted #d6dbe2; }
.evidence td, .evidence th { padding: .5mm 2.2mm; }
code, .mono { font-family: var(--mono); font-size: .92em; }
.meta { font-size: 8.5pt; color: var(--muted); }
.meta span + span::before { content: " · "; }
.records { font-size: 8.5pt; margin-top: 2mm; }
.records td, .records th { padding: .8mm 2mm; }
.records tr.related td { font-weight: 700; }
.records tr.proposal td { background: #fbeeee; color: #7a1a14; }
.records .mark { color: #b0601b; font-size: .95em; }
.none { color: var(--muted); }
footer.colophon { margin-top: 6mm; padding-top: 2mm; border-top: 1px solid var(--rule);
                  font-size: 8pt; color: var(--muted); }
footer.colophon .params { margin-top: 1mm; }
footer.colophon .params span { white-space: nowrap; margin-right: 3mm; }
a { color: var(--navy); }
@media print {
  html { background: none; }
  main { max-width: none; }
  .sheet { box-shadow: none; margin: 0; padding: 0; }
  a { color: inherit; text-decoration: none; }
}
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _colon(lang: str) -> str:
    return "：" if lang == "ja" else ": "


def _text_width(text: str, size: float) -> float:
    """Roughly how wide a text is drawn, for laying out SVG labels without a font engine."""
    wide = sum(1 for ch in text if unicodedata.east_asian_width(ch) in "WF")
    return (wide * 1.0 + (len(text) - wide) * 0.56) * size


# --- the balance profile ----------------------------------------------------------------------


def balance_profile_svg(report: Report, context: ReportContext) -> str:
    """The six principles as a row each, with the state marked on a three-step scale
    (consistent, tension, conflict): readable at a glance, and in black and white through the
    marks and positions."""
    lang = report.lang
    states = principle_states(report)
    steps = [Verdict.consistent, Verdict.tension, Verdict.conflict]
    # At least as wide as the default pack's longest English title, so that the scale stands
    # in the same place in every report of the pack; longer titles widen the chart.
    label_w = max(
        [_text_width(context.title_of(p), 12.5) for p in states]
        + [_text_width("Integration capacity", 12.5)]
    )
    label_w = min(label_w + 14, 420)
    cell_w, gap, row_h, top = 112.0, 4.0, 30.0, 26.0
    count_w = 56.0
    width = label_w + 3 * cell_w + 2 * gap + count_w
    height = top + row_h * len(states) + 4
    title = word("balance_profile", lang)
    out = [
        f'<svg id="balance-profile" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
    ]
    for i, step in enumerate(steps):
        x = label_w + i * (cell_w + gap) + cell_w / 2
        out.append(
            f'<text x="{x:.1f}" y="15" text-anchor="middle" font-size="11" '
            f'fill="{_COLOUR[step.value]}" font-weight="600">'
            f"{_e(word('state.' + step.value, lang))}</text>"
        )
    out.append(
        f'<text x="{width - 4:.1f}" y="15" text-anchor="end" font-size="11" fill="#5b6573">'
        f"{_e(word('findings', lang))}</text>"
    )
    for row, (principle, state) in enumerate(states.items()):
        y = top + row * row_h
        if row % 2 == 0:
            out.append(
                f'<rect x="0" y="{y:.1f}" width="{width:.0f}" height="{row_h:.0f}" fill="#f5f7fa"/>'
            )
        out.append(
            f'<text x="8" y="{y + row_h / 2 + 4.5:.1f}" font-size="12.5" font-weight="600">'
            f"{_e(context.title_of(principle))}</text>"
        )
        for i, step in enumerate(steps):
            x = label_w + i * (cell_w + gap)
            on = step is state
            fill = _COLOUR[step.value] if on else "#ffffff"
            stroke = _COLOUR[step.value] if on else "#d3d9e1"
            out.append(
                f'<rect class="cell{" on" if on else ""}" x="{x:.1f}" y="{y + 5:.1f}" '
                f'width="{cell_w:.0f}" height="{row_h - 10:.0f}" rx="3" fill="{fill}" '
                f'stroke="{stroke}"/>'
            )
            if on:
                out.append(
                    f'<text x="{x + cell_w / 2:.1f}" y="{y + row_h / 2 + 4.5:.1f}" '
                    f'text-anchor="middle" font-size="12" font-weight="700" fill="#ffffff">'
                    f"{_MARK[step.value]} {_e(word('state.' + step.value, lang))}</text>"
                )
        n = len(findings_of(report, principle))
        out.append(
            f'<text x="{width - 4:.1f}" y="{y + row_h / 2 + 4.5:.1f}" text-anchor="end" '
            f'font-size="12" fill="{"#1b2430" if n else "#9aa3ae"}">{n}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)


# --- the trajectory ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlacedTrajectory:
    """The trajectory of the proposal's scope as it would be with the proposal enacted: the
    enacted changes before it, then the proposal as the last change (its step, and whether it
    would reverse or oscillate, computed as for any other change)."""

    before: tuple[Change, ...]
    proposal: Change
    elections: tuple[dt.date, ...]


def place_proposal(proposal: PolicyChange, history: Sequence[PolicyChange]) -> PlacedTrajectory:
    """The proposal placed on the trajectory of its scope. Only records effective before it
    count, as in a check."""
    earlier = [r for r in history if r.effective_on < proposal.effective_on]
    as_enacted = proposal.model_copy(update={"status": Status.enacted})
    path = trajectory([*earlier, as_enacted], *proposal.scope)
    *before, last = path.changes
    return PlacedTrajectory(tuple(before), last, path.elections)


def _nice_step(span: float, steps: tuple[float, ...]) -> float:
    """The smallest step that cuts `span` into at most eight ticks; a power of ten beyond the
    list (a history of centuries, hundreds of changes)."""
    for step in steps:
        if span / step <= 8:
            return step
    return float(10 ** math.ceil(math.log10(span / 8)))


def _year_ticks(start: dt.date, end: dt.date) -> list[dt.date]:
    years = end.year - start.year + 1
    every = int(_nice_step(years, (1, 2, 5, 10, 20, 50)))
    first = start.year + (-start.year % every)
    return [
        dt.date(y, 1, 1) for y in range(first, end.year + 1, every) if dt.date(y, 1, 1) >= start
    ]


def _level_ticks(low: float, high: float) -> list[float]:
    span = high - low
    every = _nice_step(span, (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0))
    first = math.ceil(low / every) * every
    ticks = []
    tick = first
    while tick <= high + 1e-9:
        ticks.append(round(tick, 2))
        tick += every
    return ticks


def _level_text(level: float) -> str:
    text = f"{level:+.2f}".rstrip("0").rstrip(".") if level else "0"
    return text.replace("-", "−")


def trajectory_svg(placed: PlacedTrajectory, lang: str) -> str:
    """The cumulative direction of the scope as a step line over time, national elections as
    dashed lines, reversals and oscillations ringed; the proposal at its date as a dashed step
    and a hollow marker."""
    width, height = 680.0, 260.0
    left, right, top, bottom = 52.0, 112.0, 22.0, 34.0
    plot_w, plot_h = width - left - right, height - top - bottom
    before, mine = placed.before, placed.proposal
    last = float(before[-1].level) if before else 0.0
    levels = [0.0, float(mine.level), *(float(c.level) for c in before)]
    low, high = min(levels), max(levels)
    pad = max(0.5, (high - low) * 0.15)
    low, high = low - pad, high + pad
    dates = [c.on for c in before] + [mine.on]
    start = dt.date(min(dates).year, 1, 1)
    end = dt.date(mine.on.year + 1, 1, 1)
    span = max((end - start).days, 1)

    def x(day: dt.date) -> float:
        return left + plot_w * (day - start).days / span

    def y(level: float) -> float:
        return top + plot_h * (high - level) / (high - low)

    title = word("trajectory", lang)
    out = [
        f'<svg id="trajectory-chart" class="chart" xmlns="http://www.w3.org/2000/svg" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{_e(title)}">',
        f"<title>{_e(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w:.1f}" height="{plot_h:.1f}" fill="#fafbfc" '
        f'stroke="#c9d0da"/>',
    ]
    for level in _level_ticks(low, high):
        yy = y(level)
        zero = level == 0
        out.append(
            f'<line x1="{left}" x2="{left + plot_w:.1f}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{"#5b6573" if zero else "#e3e7ed"}" stroke-width="{1.2 if zero else 1}"/>'
        )
        out.append(
            f'<text x="{left - 6}" y="{yy + 4:.1f}" text-anchor="end" font-size="10.5" '
            f'fill="#5b6573">{_level_text(level)}</text>'
        )
    for tick in _year_ticks(start, end):
        xx = x(tick)
        out.append(
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + plot_h:.1f}" '
            f'y2="{top + plot_h + 4:.1f}" stroke="#5b6573"/>'
        )
        out.append(
            f'<text x="{xx:.1f}" y="{top + plot_h + 17:.1f}" text-anchor="middle" '
            f'font-size="10.5" fill="#5b6573">{tick.year}</text>'
        )
    out.append(
        f'<text transform="translate(13 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" font-size="10.5" fill="#5b6573">'
        f"{_e(word('trajectory.axis', lang))}</text>"
    )
    for election in placed.elections:
        if start <= election <= end:
            xx = x(election)
            out.append(
                f'<line class="election" x1="{xx:.1f}" x2="{xx:.1f}" y1="{top:.1f}" '
                f'y2="{top + plot_h:.1f}" stroke="#8a94a3" stroke-width="1" '
                f'stroke-dasharray="4 3"><title>{_e(word("trajectory.election", lang))} '
                f"{_e(format_date(election, lang))}</title></line>"
            )
    # Legend of the marks, top right outside the plot.
    lx = left + plot_w + 10
    legend = [
        ("#1d6fa3", "dot", word("direction.expand", lang)),
        ("#b0432b", "dot", word("direction.restrict", lang)),
        ("#d9822b", "ring", word("trajectory.reversal", lang)),
        ("#6a3d9a", "ring", word("trajectory.oscillation", lang)),
        ("#8a94a3", "dash", word("trajectory.election", lang)),
    ]
    for i, (colour, shape, label) in enumerate(legend):
        ly = top + 8 + i * 17
        if shape == "dot":
            out.append(f'<circle cx="{lx + 5}" cy="{ly}" r="4.5" fill="{colour}"/>')
        elif shape == "ring":
            out.append(
                f'<circle cx="{lx + 5}" cy="{ly}" r="5.5" fill="none" stroke="{colour}" '
                f'stroke-width="2"/>'
            )
        else:
            out.append(
                f'<line x1="{lx + 5}" x2="{lx + 5}" y1="{ly - 6}" y2="{ly + 6}" '
                f'stroke="{colour}" stroke-dasharray="4 3"/>'
            )
        out.append(f'<text x="{lx + 15}" y="{ly + 4}" font-size="10">{_e(label)}</text>')
    # The enacted path: flat until each change takes effect, then a step by its magnitude.
    if before:
        path = [f"M{x(start):.1f},{y(0):.1f}"]
        for change in before:
            path.append(f"H{x(change.on):.1f}")
            path.append(f"V{y(float(change.level)):.1f}")
        path.append(f"H{x(mine.on):.1f}")
        out.append(
            f'<path class="enacted" d="{"".join(path)}" fill="none" stroke="#1d3557" '
            f'stroke-width="2.2" stroke-linejoin="round"/>'
        )
    px, py0, py1 = x(mine.on), y(last), y(float(mine.level))
    out.append(
        f'<line class="proposal-step" x1="{px:.1f}" x2="{px:.1f}" y1="{py0:.1f}" '
        f'y2="{py1:.1f}" stroke="#a3221b" stroke-width="2.2" stroke-dasharray="5 3"/>'
    )
    for n, change in enumerate(before, start=1):
        out.extend(_marker(change, x(change.on), y(float(change.level)), str(n)))
    out.extend(_marker(mine, px, py1, None))
    out.append(
        f'<path class="proposal" d="M{px:.1f},{py1 - 7:.1f} L{px + 7:.1f},{py1:.1f} '
        f'L{px:.1f},{py1 + 7:.1f} L{px - 7:.1f},{py1:.1f} Z" fill="#ffffff" stroke="#a3221b" '
        f'stroke-width="2.4"><title>{_e(mine.record.id)}</title></path>'
    )
    label_y = min(max(py1 + 4, top + 10), top + plot_h - 16)
    out.append(
        f'<text x="{px + 17:.1f}" y="{label_y:.1f}" font-size="10.5" font-weight="700" '
        f'fill="#a3221b">{_e(word("trajectory.proposal", lang))}</text>'
    )
    out.append(
        f'<text x="{px + 17:.1f}" y="{label_y + 13:.1f}" font-size="9.5" fill="#a3221b">'
        f"{_e(format_date(mine.on, lang))}</text>"
    )
    out.append("</svg>")
    return "\n".join(out)


def _marker(change: Change, cx: float, cy: float, number: str | None) -> list[str]:
    out = []
    if change.oscillation:
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="14" fill="none" stroke="#6a3d9a" '
            f'stroke-width="2"/>'
        )
    if change.reversal:
        out.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="10.5" fill="none" stroke="#d9822b" '
            f'stroke-width="2"/>'
        )
    if number is not None:
        colour = {"expand": "#1d6fa3", "restrict": "#b0432b"}.get(
            change.record.direction.value, "#5b6573"
        )
        out.append(
            f'<circle class="change" cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}" '
            f'stroke="#fff" stroke-width="1.2"><title>{_e(change.record.id)}</title></circle>'
        )
        out.append(
            f'<text x="{cx + 7:.1f}" y="{cy - 7:.1f}" font-size="10" font-weight="700">'
            f"{number}</text>"
        )
    return out


def _marks(change: Change, lang: str) -> str:
    marks = []
    if change.reversal:
        marks.append(word("trajectory.reversal", lang))
    if change.oscillation:
        marks.append(word("trajectory.oscillation", lang))
    return ("、" if lang == "ja" else ", ").join(marks)


def _records_table(placed: PlacedTrajectory, related: set[str], lang: str) -> str:
    """The changes of the chart by number, the proposal last; records a finding rests on in
    bold."""
    head = [
        word("no", lang),
        word("date", lang),
        word("record", lang),
        word("change", lang),
        word("trajectory.level", lang),
    ]
    rows = []
    numbered: list[tuple[str, Change]] = [(str(n), c) for n, c in enumerate(placed.before, start=1)]
    numbered.append(("◇", placed.proposal))
    for label, change in numbered:
        record = change.record
        title = record.extensions.get(f"title_{lang}")
        title = title if isinstance(title, str) and title.strip() else record.title
        classes = []
        if record.id in related:
            classes.append("related")
        if change is placed.proposal:
            classes.append("proposal")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        marks = _marks(change, lang)
        rows.append(
            f"<tr{cls}><td class='num'>{label}</td>"
            f"<td class='date'>{_e(format_date(record.effective_on, lang))}</td>"
            f"<td><span class='mono'>{_e(record.id)}</span><br>{_e(title)}</td>"
            f"<td>{_e(change_text(record, lang))}"
            + (f"<br><span class='mark'>{_e(marks)}</span>" if marks else "")
            + f"</td><td class='num'>{_level_text(float(change.level))}</td></tr>"
        )
    header = "".join(f"<th>{_e(h)}</th>" for h in head)
    empty = f'<p class="none">{_e(word("trajectory.empty", lang))}</p>' if not placed.before else ""
    return (
        f'{empty}<table class="grid records"><thead><tr>{header}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


# --- the page ---------------------------------------------------------------------------------


def _banner(report: Report) -> str:
    lang = report.lang
    state = report.verdict.value
    verdict = word("verdict." + state, lang)
    tally = counts(report)
    chips = "".join(
        f'<span class="chip" style="color:{_COLOUR[_KIND_STATE[kind]]}">'
        f"{_e(word('kind.' + kind, lang))} {tally[kind]}</span>"
        for kind in ("conflict", "reversal", "tension", "note")
        if tally[kind]
    )
    return (
        f'<section class="banner verdict-{state}" id="verdict" '
        f'style="color:{_COLOUR[state]};background:{_TINT[state]}">'
        f'<div class="mark" style="background:{_COLOUR[state]}">{_MARK[state]}</div>'
        f"<div><div class='label'>{_e(word('verdict', lang))}</div>"
        f"<div class='verdict'>{_e(verdict.upper() if lang == 'en' else verdict)}</div>"
        f"<div class='lead'>{_e(word(f'verdict.{state}.lead', lang))}</div>"
        + (f"<div class='tally'>{chips}</div>" if chips else "")
        + "</div></section>"
    )


def _facts(proposal: PolicyChange, lang: str) -> str:
    basis = (
        "<br>".join(_e(b) for b in proposal.legal_basis)
        if proposal.legal_basis
        else f'<span class="none">{_e(word("none", lang))}</span>'
    )
    rows = [
        (word("scope", lang), _e(scope_text(proposal, lang))),
        (word("change", lang), _e(change_text(proposal, lang))),
        (word("legal_basis", lang), basis),
    ]
    if proposal.proposed_on is not None:
        rows.append((word("proposed_on", lang), _e(format_date(proposal.proposed_on, lang))))
    rows.append((word("effective_on", lang), _e(format_date(proposal.effective_on, lang))))
    if proposal.rationale.trigger is not None:
        rows.append(
            (word("trigger", lang), _e(term("trigger", proposal.rationale.trigger.value, lang)))
        )
    if proposal.rationale.statement:
        rows.append((word("statement", lang), _e(proposal.rationale.statement)))
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="facts">{body}</table>'


def _finding(n: int, report: Report, context: ReportContext) -> str:
    lang = report.lang
    f = report.findings[n - 1]
    state = _KIND_STATE[f.kind.value]
    colour = _COLOUR[state]
    evidence = ""
    if f.evidence:
        rows = "".join(
            f"<tr><td><code>{_e(key)}</code></td>"
            f"<td>{_e(evidence_text(value, lang, key, report.params))}</td></tr>"
            for key, value in f.evidence.items()
        )
        evidence = (
            f'<table class="evidence"><thead><tr><th>{_e(word("evidence", lang))}</th>'
            f"<th>{_e(word('value', lang))}</th></tr></thead><tbody>{rows}</tbody></table>"
        )
    meta = []
    if f.related:
        meta.append(
            f"<span>{_e(word('related', lang))}{_colon(lang)}{_e(', '.join(f.related))}</span>"
        )
    meta.append(f"<span>{_e(word('source', lang))}{_colon(lang)}<code>{_e(f.source)}</code></span>")
    return (
        f'<article class="finding kind-{f.kind.value}" style="color:{colour}">'
        f"<header><span class='no'>{n}.</span>"
        f'<span class="chip" style="color:{colour};background:{_TINT[state]}">'
        f"{_e(word('kind.' + f.kind.value, lang))}</span>"
        f'<span class="chip" style="color:#3d4f66">{_e(word("severity", lang))}'
        f"{_colon(lang)}{_e(word('severity.' + f.severity.value, lang))}</span>"
        f"<span class='where'>{_e(context.title_of(f.principle.value))} / "
        f"<code>{_e(f.rule)}</code></span></header>"
        f"<p class='msg'>{_e(f.message)}</p>"
        f"<p class='remedy'><b>{_e(word('remedy', lang))}</b>{_e(f.remedy)}</p>"
        f"{evidence}<div class='meta'>{''.join(meta)}</div></article>"
    )


def _sheet(report: Report, context: ReportContext) -> str:
    lang = report.lang
    proposal = context.proposals.get(report.proposal)
    parts = [
        f'<section class="sheet" id="report-{_e(report.proposal)}">',
        f'<div class="masthead"><span class="doc">{_e(word("report", lang))}</span>'
        f'<span class="id">{_e(report.proposal)}</span></div>',
        f"<h1>{_e(context.proposal_title(proposal) if proposal else report.proposal)}</h1>",
        _banner(report),
    ]
    if proposal is not None:
        parts.append(_facts(proposal, lang))
    parts.append(f"<h2>{_e(word('balance_profile', lang))}</h2>")
    parts.append(
        f"<figure>{balance_profile_svg(report, context)}"
        f"<figcaption>{_e(word('balance_profile.caption', lang))}</figcaption></figure>"
    )
    if proposal is not None:
        related = {r for f in report.findings for r in f.related}
        placed = place_proposal(proposal, context.history)
        trajectory_heading = f"{word('trajectory', lang)}{_colon(lang)}{scope_text(proposal, lang)}"
        parts.append(f"<h2>{_e(trajectory_heading)}</h2>")
        parts.append(
            f"<figure>{trajectory_svg(placed, lang)}"
            f"<figcaption>{_e(word('trajectory.caption', lang))}</figcaption></figure>"
        )
        parts.append(_records_table(placed, related, lang))
    parts.append(f"<h2>{_e(word('findings', lang))}</h2>")
    if report.findings:
        parts.extend(_finding(n, report, context) for n in range(1, len(report.findings) + 1))
    else:
        parts.append(f"<p>{_e(word('no_findings', lang))}</p>")
    # Spaces between the items: the line may break only there.
    params = " ".join(
        f"<span><code>{_e(name)}</code> = {_e(value)}</span>"
        for name, value in report.params.items()
    )
    parts.append(
        f'<footer class="colophon"><div>{_e(word("checked_by", lang))}{_colon(lang)}'
        f"<span class='mono'>{_e(pack_text(report))}</span> · {_e(word('engine', lang))}"
        f"{_colon(lang)}{_e(engine_text(report, lang))}</div>"
        + (
            f"<div class='params'>{_e(word('params', lang))}{_colon(lang)}{params}</div>"
            if params
            else ""
        )
        + "</footer></section>"
    )
    return "\n".join(parts)


def _summary_sheet(reports: Sequence[Report], context: ReportContext) -> str:
    lang = context.lang
    header, *rows = summary_rows(reports, lang)
    head = "".join(f"<th{' class=num' if i > 1 else ''}>{_e(h)}</th>" for i, h in enumerate(header))
    body = []
    for report, row in zip(reports, rows, strict=True):
        state = report.verdict.value
        proposal = context.proposals.get(report.proposal)
        title = context.proposal_title(proposal) if proposal else ""
        cells = [
            f"<td><a href='#report-{_e(report.proposal)}' class='mono'>{_e(row[0])}</a>"
            + (f"<br>{_e(title)}" if title else "")
            + "</td>",
            f'<td><span class="chip" style="color:{_COLOUR[state]};background:{_TINT[state]}">'
            f"{_MARK[state]} {_e(row[1])}</span></td>",
            *(f"<td class='num'>{_e(c)}</td>" for c in row[2:]),
        ]
        body.append(f"<tr>{''.join(cells)}</tr>")
    return (
        f'<section class="sheet" id="summary"><div class="masthead">'
        f'<span class="doc">{_e(word("reports", lang))}</span>'
        f'<span class="id">{_e(word("proposals_count", lang).format(n=len(reports)))}</span>'
        "</div>"
        f"<h1>{_e(word('summary', lang))}{_colon(lang)}{_e(word('contents', lang))}</h1>"
        f'<table class="grid summary"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></section>"
    )


def render_html(reports: Sequence[Report], context: ReportContext) -> str:
    """One self-contained HTML document; several reports each start a new printed page, after
    a summary page."""
    lang = context.lang
    if len(reports) == 1:
        title = f"{word('report', lang)}{_colon(lang)}{reports[0].proposal}"
        sheets = [_sheet(reports[0], context)]
    else:
        title = f"{word('reports', lang)} ({len(reports)})"
        sheets = [_summary_sheet(reports, context), *(_sheet(r, context) for r in reports)]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{_e(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="bcm">\n'
        # An empty icon: without it a browser asks the network for /favicon.ico.
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(sheets)
        + "\n</main>\n</body>\n</html>\n"
    )
