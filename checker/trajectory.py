"""The trajectory of a policy: its enacted changes in date order, as a path up and down.

Each enacted change of one scope (jurisdiction, area, target) is a step: up for `expand`, down
for `restrict`, flat for `neutral`, its height set by the magnitude. A change whose direction
differs from the previous non-neutral one is a *reversal*; a reversal that brings the direction
changes among the non-neutral changes within the oscillation window up to it (itself included)
to three or more is an *oscillation*, as the `oscillation` rule of the default pack counts them.
The elections are the `context.next_election_on` dates the records give.

`render_text` lays the trajectory out as a table; `draw` charts it (SVG or PNG) with matplotlib.
"""

from __future__ import annotations

import datetime as dt
import importlib
import itertools
import math
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checker.documents import Direction, Magnitude, PolicyChange, Status
from checker.i18n import term

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.figure import Figure
    from matplotlib.text import Annotation

STEP_HEIGHT: dict[Magnitude, Decimal] = {
    Magnitude.fine_tuning: Decimal("0.25"),
    Magnitude.minor: Decimal("0.5"),
    Magnitude.mid_level: Decimal(1),
    Magnitude.major: Decimal(2),
}
OSCILLATION_WINDOW_DAYS = 2922  # eight years: the default pack's `oscillation_window`
OSCILLATION_TURNS = 3


@dataclass(frozen=True)
class Change:
    """One enacted change on the trajectory."""

    record: PolicyChange
    step: Decimal  # + up (expand), - down (restrict), 0 (neutral)
    level: Decimal  # the cumulative direction after this change
    reversal: bool
    oscillation: bool
    turns: int  # direction changes within the window up to this change, itself included

    @property
    def on(self) -> dt.date:
        return self.record.effective_on


@dataclass(frozen=True)
class Trajectory:
    jurisdiction: str
    area: str
    target: str
    changes: tuple[Change, ...]
    elections: tuple[dt.date, ...]
    window_days: int = OSCILLATION_WINDOW_DAYS

    @property
    def reversals(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.reversal)

    @property
    def oscillations(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.oscillation)

    @property
    def scope(self) -> str:
        return f"{self.jurisdiction} / {self.area} / {self.target}"


def trajectory(
    records: Iterable[PolicyChange],
    jurisdiction: str,
    area: str,
    target: str,
    *,
    window_days: int = OSCILLATION_WINDOW_DAYS,
    turns: int = OSCILLATION_TURNS,
) -> Trajectory:
    """The enacted changes of one scope in date order (then id), with reversals, oscillations
    and the elections their records name."""
    scope = (jurisdiction, str(area), target)
    enacted = sorted(
        (r for r in records if r.scope == scope and r.status is Status.enacted),
        key=lambda r: (r.effective_on, r.id),
    )
    changes: list[Change] = []
    level = Decimal(0)
    turned: list[PolicyChange] = []  # the non-neutral changes so far
    for record in enacted:
        height = STEP_HEIGHT[record.magnitude]
        step = {Direction.expand: height, Direction.restrict: -height}.get(record.direction)
        step = step if step is not None else Decimal(0)
        level += step
        if record.direction is Direction.neutral:
            changes.append(Change(record, step, level, False, False, 0))
            continue
        reversal = bool(turned) and turned[-1].direction is not record.direction
        recent = [r for r in turned if (record.effective_on - r.effective_on).days <= window_days]
        sequence = [*recent, record]
        count = sum(1 for a, b in itertools.pairwise(sequence) if a.direction is not b.direction)
        changes.append(Change(record, step, level, reversal, reversal and count >= turns, count))
        turned.append(record)
    elections = sorted(
        {r.context.next_election_on for r in enacted if r.context.next_election_on is not None}
    )
    return Trajectory(
        jurisdiction, str(area), target, tuple(changes), tuple(elections), window_days
    )


# --- words ------------------------------------------------------------------------------------

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Policy trajectory",
        "subtitle": "cumulative direction of enacted changes (expand +, restrict −; step by "
        "magnitude)",
        "date": "date",
        "change": "change",
        "direction": "direction",
        "magnitude": "magnitude",
        "step": "step",
        "level": "level",
        "marks": "marks",
        "reversal": "reversal",
        "oscillation": "oscillation",
        "election": "election",
        "elections": "national elections",
        "none": "no enacted changes in this scope",
        "x": "date of effect",
        "y": "cumulative direction (expand +, restrict −)",
        "expand": "expand",
        "restrict": "restrict",
        "neutral": "neutral",
        "fine_tuning": "fine tuning",
        "minor": "minor",
        "mid_level": "mid-level",
        "major": "major",
    },
    "ja": {
        "title": "政策の軌跡",
        "subtitle": "施行済み変更の累積方向（拡大＋・抑制－、段差は変更の規模）",
        "date": "施行日",
        "change": "変更",
        "direction": "方向",
        "magnitude": "規模",
        "step": "段差",
        "level": "累積",
        "marks": "注記",
        "reversal": "方針の反転",
        "oscillation": "政策の振れ",
        "election": "国政選挙",
        "elections": "国政選挙",
        "none": "この対象に施行済みの変更はありません",
        "x": "施行日",
        "y": "累積方向（拡大＋・抑制－）",
        "expand": "拡大",
        "restrict": "抑制",
        "neutral": "中立",
        "fine_tuning": "微調整",
        "minor": "小規模",
        "mid_level": "中規模",
        "major": "大規模",
    },
}


def _word(key: str, lang: str) -> str:
    return _WORDS.get(lang, _WORDS["en"])[key]


def scope_title(t: Trajectory, lang: str = "en") -> str:
    if lang != "ja":
        return f"{t.jurisdiction} / {t.area} / {t.target}"
    area, target = term("area", t.area, "ja"), term("target", t.target, "ja")
    # The vocabulary's words with the value as written; a target outside it, as written.
    area_text = f"{area}（{t.area}）" if area != t.area else t.area
    target_text = f"{target}（{t.target}）" if target != t.target else t.target
    return f"{t.jurisdiction}・{area_text}・{target_text}"


def _title(t: Trajectory, lang: str) -> str:
    return f"{_word('title', lang)}{'：' if lang == 'ja' else ': '}{scope_title(t, lang)}"


def _number(value: Decimal, signed: bool = False) -> str:
    text = format(value.normalize(), "f") if value != 0 else "0"
    return f"+{text}" if signed and value > 0 else text


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - _width(text))


def _marks(change: Change, lang: str) -> str:
    marks = []
    if change.reversal:
        marks.append(_word("reversal", lang))
    if change.oscillation:
        marks.append(f"{_word('oscillation', lang)} ({change.turns})")
    return ", ".join(marks)


def render_text(t: Trajectory, lang: str = "en") -> str:
    """The trajectory as a table: each change, with elections between them in date order."""
    lines = [_title(t, lang)]
    if not t.changes:
        return "\n".join([*lines, _word("none", lang)]) + "\n"
    header = [_word(k, lang) for k in ("date", "change", "direction", "magnitude", "step", "level")]
    rows: list[list[str] | str] = []
    elections = list(t.elections)
    for change in t.changes:
        while elections and elections[0] <= change.on:
            rows.append(f"{elections.pop(0).isoformat()}  ── {_word('election', lang)}")
        record = change.record
        rows.append(
            [
                change.on.isoformat(),
                record.id,
                _word(record.direction.value, lang),
                _word(record.magnitude.value, lang),
                _number(change.step, signed=True),
                _number(change.level),
                _marks(change, lang),
            ]
        )
    for election in elections:
        rows.append(f"{election.isoformat()}  ── {_word('election', lang)}")
    table = [r for r in rows if isinstance(r, list)]
    widths = [max(_width(r[i]) for r in [header, *table]) for i in range(len(header))]
    lines.append("  ".join(_pad(h, w) for h, w in zip(header, widths, strict=True)).rstrip())
    for row in rows:
        if isinstance(row, str):
            lines.append(row)
            continue
        cells = [_pad(c, w) for c, w in zip(row, widths, strict=False)]
        lines.append(("  ".join(cells) + "  " + row[-1]).rstrip())
    lines.append(_counts(t, lang))
    return "\n".join(lines) + "\n"


def _counts(t: Trajectory, lang: str) -> str:
    numbers = (len(t.changes), len(t.reversals), len(t.oscillations), len(t.elections))
    if lang == "ja":
        return "変更{}件、方針の反転{}件、政策の振れ{}件、国政選挙{}回".format(*numbers)
    words = ("change", "reversal", "oscillation", "election")
    return ", ".join(f"{n} {w}{'s' if n != 1 else ''}" for n, w in zip(numbers, words, strict=True))


# --- the chart --------------------------------------------------------------------------------

_JAPANESE_FONTS = (
    "Noto Sans CJK JP",
    "Noto Sans JP",
    "Source Han Sans JP",
    "IPAexGothic",
    "IPAGothic",
    "IPAPGothic",
    "TakaoGothic",
    "VL Gothic",
)
# Where Debian's fonts-noto-cjk and fonts-ipafont-gothic put theirs: a font installed after
# matplotlib built its font cache is found here and added.
_FONT_GLOBS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
)

_COLOURS = {
    Direction.expand: "#1b7837",
    Direction.restrict: "#b2182b",
    Direction.neutral: "#777777",
}
_REVERSAL = "#e08214"
_OSCILLATION = "#762a83"


def japanese_font() -> str | None:
    """The family name of an installed font with Japanese glyphs, or None."""
    from matplotlib import font_manager

    def installed() -> set[str]:
        return {f.name for f in font_manager.fontManager.ttflist}

    names = installed()
    for family in _JAPANESE_FONTS:
        if family in names:
            return family
    for path in _FONT_GLOBS:
        if Path(path).is_file():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
    names = installed()
    return next((family for family in _JAPANESE_FONTS if family in names), None)


def draw(t: Trajectory, path: str | Path, lang: str = "en") -> str:
    """Chart the trajectory to an .svg or .png file; return the language of its words.

    Japanese words need a font with Japanese glyphs; without one the chart is drawn in English
    (and "en" is returned) rather than with empty boxes.
    """
    target = Path(path)
    suffix = target.suffix.lower().lstrip(".")
    if suffix not in CHART_FORMATS:
        raise ValueError(f"a chart is written as .svg or .png, not `{target.suffix or target}`")
    data, used = chart(t, suffix, lang)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return used


CHART_FORMATS = ("svg", "png")


def chart(t: Trajectory, format: str = "svg", lang: str = "en") -> tuple[bytes, str]:
    """The chart as SVG or PNG bytes, and the language of its words (see `draw`).

    The same trajectory gives byte-identical SVG: fixed ids, no date in the metadata, glyphs
    drawn as paths (so Japanese shows without the font where the file is opened).
    """
    import io

    import matplotlib as mpl

    if format not in CHART_FORMATS:
        raise ValueError(f"a chart is drawn as svg or png, not `{format}`")
    font = japanese_font() if lang == "ja" else None
    used = "ja" if font is not None else "en"
    with mpl.rc_context(_style(font)):
        drawn = figure(t, used, font)
        buffer = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None} if format == "svg" else {"Software": None}
        drawn.savefig(buffer, format=format, metadata=metadata)
    return buffer.getvalue(), used


def _style(font: str | None) -> Any:  # matplotlib types rc keys as literals
    return {
        "font.family": ["DejaVu Sans", font] if font else ["DejaVu Sans"],
        "svg.hashsalt": "bcm-trajectory",
        "svg.fonttype": "path",
        "axes.unicode_minus": True,
    }


def figure(t: Trajectory, lang: str = "en", font: str | None = None) -> Figure:
    """The chart as a matplotlib Figure (no pyplot, no global state), laid out and labelled.

    `font` is the family for Japanese glyphs (see `japanese_font`); words are in `lang`.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with mpl.rc_context(_style(font)):
        drawn = Figure(figsize=(11, 6), dpi=150)
        FigureCanvasAgg(drawn)
        _plot(drawn, t, lang)
    return drawn


def _plot(figure: Any, t: Trajectory, lang: str) -> None:
    dates: Any = importlib.import_module("matplotlib.dates")  # untyped: kept out of mypy's way
    ax = figure.add_axes((0.07, 0.2, 0.9, 0.66))
    figure.text(0.07, 0.95, _title(t, lang), fontsize=15, weight="bold")
    figure.text(0.07, 0.905, _word("subtitle", lang), fontsize=10, color="#444444")
    ax.set_xlabel(_word("x", lang))
    ax.set_ylabel(_word("y", lang))
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.axhline(0, color="#999999", linewidth=0.8, zorder=1)

    if not t.changes:
        ax.text(0.5, 0.5, _word("none", lang), transform=ax.transAxes, ha="center", va="center")
        ax.set_yticks([])
        return

    days = [c.on for c in t.changes]
    levels = [float(c.level) for c in t.changes]
    # The time axis covers the changes and the elections their records name (each is the next
    # election after a proposal, so never far off).
    first, last = min(days[0], *t.elections), max(days[-1], *t.elections)
    span = max((last - first).days, 365)
    margin = dt.timedelta(days=max(span // 12, 180))
    start, end = first - margin, last + margin
    xs = [start, *days, end]
    ys = [0.0, *levels, levels[-1]]
    ax.step(xs, ys, where="post", color="#2166ac", linewidth=2.2, zorder=3)
    low, high = min(0.0, *levels), max(0.0, *levels)
    pad = max(1.2, (high - low) * 0.45)
    ax.set_ylim(low - pad, high + pad)
    ax.set_xlim(start, end)

    renderer = figure.canvas.get_renderer()
    election_boxes: list[tuple[float, ...]] = []
    shown: list[float] = []
    for election in t.elections:
        if not start <= election <= end:
            continue
        ax.axvline(election, color="#888888", linestyle=(0, (4, 3)), linewidth=0.9, zorder=2)
        # Its date along the top edge, unless it would run into the previous one.
        x = _x(election)
        if all(abs(x - other) > (_x(end) - _x(start)) / 60 for other in shown):
            shown.append(x)
            note = ax.annotate(
                _date_text(election, lang), xy=(x, 1), xycoords=("data", "axes fraction"),
                xytext=(2, -3), textcoords="offset points", rotation=90, ha="left", va="top",
                fontsize=7, color="#666666",
            )  # fmt: skip
            election_boxes.append(_box(note, renderer))

    for change in t.changes:
        colour = _COLOURS[change.record.direction]
        ax.plot(change.on, float(change.level), "o", color=colour, markersize=7, zorder=5)
        if change.reversal:
            ax.plot(
                change.on, float(change.level), "D", markersize=15, markerfacecolor="none",
                markeredgecolor=_REVERSAL, markeredgewidth=2, zorder=6,
            )  # fmt: skip
        if change.oscillation:
            ax.plot(
                change.on, float(change.level), "o", markersize=22, markerfacecolor="none",
                markeredgecolor=_OSCILLATION, markeredgewidth=2, zorder=6,
            )  # fmt: skip

    locator = dates.AutoDateLocator(minticks=4, maxticks=10)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_date_formatter(locator, lang))
    ax.tick_params(axis="both", labelsize=10)
    _label_changes(figure, ax, t, lang, [*election_boxes, *_step_boxes(ax, xs, ys)])
    _legend(figure, t, lang)


def _date_text(day: dt.date, lang: str) -> str:
    return f"{day.year}年{day.month}月{day.day}日" if lang == "ja" else day.isoformat()


def _label_text(change: Change, lang: str) -> tuple[str, str]:
    """The label of a change and its colour: the id and date, then its marks."""
    marks = _marks(change, lang)
    text = f"{change.record.id}\n{_date_text(change.on, lang)}"
    text = f"{text}\n{marks}" if marks else text
    colour = _OSCILLATION if change.oscillation else _REVERSAL if change.reversal else "#333333"
    return text, colour


def _candidates() -> list[tuple[int, int, str]]:
    """Offsets (points) and alignments to try for a label, nearest first."""
    out: list[tuple[int, int, str]] = []
    for distance in range(14, 200, 14):
        for dy in (distance, -distance):
            out += [(0, dy, "center"), (-6, dy, "left"), (6, dy, "right")]
            for dx in (20, 80, 150):
                out += [(dx, dy, "left"), (-dx, dy, "right")]
    for dx in (20, 80, 150):
        out += [(dx, 0, "left"), (-dx, 0, "right")]
    return sorted(out, key=lambda c: math.hypot(c[0], c[1]))


def _label_changes(
    figure: Any, ax: Axes, t: Trajectory, lang: str, obstacles: list[tuple[float, ...]]
) -> None:
    """Put each label where it covers no other label, marker, step or election date, inside
    the axes, and where its leader line (if it needs one) crosses no label, marker or leader.

    Candidates go out from the point, above and below, centred or to one side; the first free
    one wins. Marked changes (reversals, oscillations) are placed first so they get the closest
    places; with more than 40 changes only they are labelled. Deterministic: the same trajectory
    always gets the same layout.
    """
    renderer = figure.canvas.get_renderer()
    ax_box = ax.get_window_extent(renderer)
    points: dict[str, tuple[float, float]] = {}
    markers: dict[str, tuple[float, ...]] = {}
    for change in t.changes:
        x, y = ax.transData.transform((_x(change.on), float(change.level)))
        points[change.record.id] = (float(x), float(y))
        # A marker occupies the box around its point (the rings of marks are larger).
        size = 22 if change.oscillation else 15 if change.reversal else 7
        half = size * figure.dpi / 72 / 2 + 1
        markers[change.record.id] = (x - half, y - half, x + half, y + half)
    labels: list[tuple[float, ...]] = []
    leaders: list[tuple[tuple[float, float], tuple[float, float]]] = []
    labelled = [c for c in t.changes if c.reversal or c.oscillation]
    if len(t.changes) <= 40:
        labelled += [c for c in t.changes if not (c.reversal or c.oscillation)]
    for change in labelled:
        text, colour = _label_text(change, lang)
        weight = "bold" if change.reversal or change.oscillation else "normal"
        point = points[change.record.id]
        others = [box for key, box in markers.items() if key != change.record.id]
        placed = False
        for dx, dy, ha in _candidates():
            label = _annotation(ax, change, text, colour, weight, dx, dy, ha)
            box = _box(label, renderer)
            label.remove()
            inside = (
                box[0] >= ax_box.x0
                and box[2] <= ax_box.x1
                and box[1] >= ax_box.y0
                and box[3] <= ax_box.y1
            )
            if not inside or any(
                _overlap(box, other) for other in (*obstacles, *markers.values(), *labels)
            ):
                continue
            if any(_segment_hits_box(a, b, box) for a, b in leaders):
                continue
            # Away from its point a label gets a leader line back to it.
            far = abs(dy) > 14 or abs(dx) > 20
            leader = (point, _nearest(point, box))
            if far and (
                any(_segment_hits_box(*leader, other) for other in (*labels, *others))
                or any(_segments_cross(leader, other) for other in leaders)
            ):
                continue
            labels.append(box)
            if far:
                leaders.append(leader)
            # The leader starts at the point of the label nearest to the change (matplotlib
            # would start it from the label's centre, across whatever lies between).
            start = (
                (leader[1][0] - box[0]) / (box[2] - box[0]),
                (leader[1][1] - box[1]) / (box[3] - box[1]),
            )
            _annotation(ax, change, text, colour, weight, dx, dy, ha, start if far else None)
            placed = True
            break
        if not placed:
            # No free place: above the point, rather than not at all.
            _annotation(ax, change, text, colour, weight, 0, 14, "center")


def _date_formatter(locator: Any, lang: str) -> Any:
    """Concise date ticks: a year at its first tick, months within it (2022年, 7月 in Japanese)."""
    mdates: Any = importlib.import_module("matplotlib.dates")
    from matplotlib.ticker import FuncFormatter

    if lang != "ja":
        return mdates.ConciseDateFormatter(locator)

    def japanese(value: float, _position: int | None = None) -> str:
        day: dt.date = mdates.num2date(value).date()
        if day.month == 1 and day.day == 1:
            return f"{day.year}年"
        return f"{day.month}月" if day.day == 1 else f"{day.month}月{day.day}日"

    return FuncFormatter(japanese)


def _step_boxes(ax: Axes, xs: list[dt.date], ys: list[float]) -> list[tuple[float, ...]]:
    """The steps of the path as thin boxes (display coordinates), for labels to keep off."""
    points = [ax.transData.transform((_x(x), y)) for x, y in zip(xs, ys, strict=True)]
    boxes: list[tuple[float, ...]] = []
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        # where="post": along at the old level, then up or down at the new date
        boxes.append((min(x0, x1), y0 - 2, max(x0, x1), y0 + 2))
        boxes.append((x1 - 2, min(y0, y1), x1 + 2, max(y0, y1)))
    return boxes


def _x(day: dt.date) -> float:
    dates: Any = importlib.import_module("matplotlib.dates")
    return float(dates.date2num(day))


def _annotation(
    ax: Axes,
    change: Change,
    text: str,
    colour: str,
    weight: str,
    dx: int,
    dy: int,
    ha: str,
    leader: tuple[float, float] | None = None,
) -> Annotation:
    """A change's label; with `leader`, a line to the change from that point of the label
    (fractions of its width and height)."""
    return ax.annotate(
        text,
        xy=(_x(change.on), float(change.level)),
        xytext=(dx, dy),
        textcoords="offset points",
        ha=ha,
        va="bottom" if dy > 0 else "top",
        fontsize=8,
        color=colour,
        weight=weight,
        linespacing=1.2,
        annotation_clip=False,
        bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.9},
        arrowprops={
            "arrowstyle": "-",
            "color": "#999999",
            "linewidth": 0.7,
            "shrinkA": 0,
            "shrinkB": 6,
            "relpos": leader,
        }
        if leader is not None
        else None,
        zorder=7,
    )


def _box(label: Annotation, renderer: RendererBase) -> tuple[float, ...]:
    extent = label.get_window_extent(renderer)
    return (extent.x0 - 2, extent.y0 - 2, extent.x1 + 2, extent.y1 + 2)


def _nearest(point: tuple[float, float], box: Sequence[float]) -> tuple[float, float]:
    """The point of a box nearest to a point: where a leader line meets its label."""
    return (min(max(point[0], box[0]), box[2]), min(max(point[1], box[1]), box[3]))


def _segment_hits_box(a: tuple[float, float], b: tuple[float, float], box: Sequence[float]) -> bool:
    """Whether the segment from a to b passes through the box (Liang-Barsky clipping)."""
    low, high = 0.0, 1.0
    dx, dy = b[0] - a[0], b[1] - a[1]
    for p, q in (
        (-dx, a[0] - box[0]),
        (dx, box[2] - a[0]),
        (-dy, a[1] - box[1]),
        (dy, box[3] - a[1]),
    ):
        if p == 0:
            if q < 0:
                return False
            continue
        r = q / p
        if p < 0:
            low = max(low, r)
        else:
            high = min(high, r)
        if low > high:
            return False
    return True


def _segments_cross(
    s: tuple[tuple[float, float], tuple[float, float]],
    u: tuple[tuple[float, float], tuple[float, float]],
) -> bool:
    def turn(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> float:
        return (q[0] - p[0]) * (r[1] - p[1]) - (q[1] - p[1]) * (r[0] - p[0])

    (a, b), (c, d) = s, u
    return turn(a, b, c) * turn(a, b, d) < 0 and turn(c, d, a) * turn(c, d, b) < 0


def _overlap(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _legend(figure: Any, t: Trajectory, lang: str) -> None:
    from matplotlib.lines import Line2D

    def dot(colour: str) -> Line2D:
        return Line2D([], [], marker="o", linestyle="none", color=colour, markersize=7)

    handles: list[Line2D] = []
    labels: list[str] = []
    for direction in Direction:
        if any(c.record.direction is direction for c in t.changes):
            handles.append(dot(_COLOURS[direction]))
            labels.append(_word(direction.value, lang))
    if t.reversals:
        handles.append(
            Line2D([], [], marker="D", linestyle="none", markersize=11, markerfacecolor="none",
                   markeredgecolor=_REVERSAL, markeredgewidth=2)
        )  # fmt: skip
        labels.append(_word("reversal", lang))
    if t.oscillations:
        handles.append(
            Line2D([], [], marker="o", linestyle="none", markersize=14, markerfacecolor="none",
                   markeredgecolor=_OSCILLATION, markeredgewidth=2)
        )  # fmt: skip
        labels.append(_word("oscillation", lang))
    if t.elections:
        handles.append(Line2D([], [], color="#888888", linestyle=(0, (4, 3)), linewidth=0.9))
        labels.append(_word("elections", lang))
    figure.legend(
        handles, labels, loc="lower center", ncol=len(handles), frameon=False, fontsize=9.5,
        bbox_to_anchor=(0.5, 0.01),
    )  # fmt: skip
