"""The trajectory of a scope: steps, reversals, oscillations, elections; its table, its chart
(labels that do not overlap, deterministic SVG, Japanese or an English fallback) and
`bcm trajectory`."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from matplotlib.dates import date2num
from matplotlib.text import Annotation, Text
from matplotlib.transforms import Bbox

from checker.cli import main
from checker.documents import PolicyChange
from checker.i18n import term
from checker.trajectory import (
    Trajectory,
    chart,
    draw,
    figure,
    japanese_font,
    render_text,
    scope_title,
    trajectory,
)

from .conftest import HISTORY, record


def change(
    n: int, on: str, direction: str, magnitude: str = "mid_level", **more: Any
) -> PolicyChange:
    fields = {"area": "border_control", "target": "all_migrants", **more}
    return record(n, effective_on=on, direction=direction, magnitude=magnitude, **fields)


def scope(records: list[PolicyChange]) -> Trajectory:
    return trajectory(records, "JP", "border_control", "all_migrants")


def marks(t: Trajectory) -> list[tuple[str, str, str, bool, bool, int]]:
    return [
        (c.record.id, str(c.step), str(c.level), c.reversal, c.oscillation, c.turns)
        for c in t.changes
    ]


CASES = [
    ("steps add up, height by magnitude",
     [change(1, "2001-01-01", "expand", "fine_tuning"), change(2, "2002-01-01", "expand", "minor"),
      change(3, "2003-01-01", "expand", "mid_level"), change(4, "2004-01-01", "restrict", "major")],
     [("T-00001", "0.25", "0.25", False, False, 0), ("T-00002", "0.5", "0.75", False, False, 0),
      ("T-00003", "1", "1.75", False, False, 0), ("T-00004", "-2", "-0.25", True, False, 1)]),
    ("a neutral change is flat and never turns; the next one compares with the one before it",
     [change(1, "2001-01-01", "restrict"), change(2, "2002-01-01", "neutral", "major"),
      change(3, "2003-01-01", "restrict"), change(4, "2004-01-01", "expand")],
     [("T-00001", "-1", "-1", False, False, 0), ("T-00002", "0", "-1", False, False, 0),
      ("T-00003", "-1", "-2", False, False, 0), ("T-00004", "1", "-1", True, False, 1)]),
    ("the pack's example: a third turn within eight years is an oscillation",
     [change(1, "2018-01-01", "restrict"), change(2, "2020-01-01", "expand"),
      change(3, "2022-01-01", "restrict"), change(4, "2024-01-01", "expand")],
     [("T-00001", "-1", "-1", False, False, 0), ("T-00002", "1", "0", True, False, 1),
      ("T-00003", "-1", "-1", True, False, 2), ("T-00004", "1", "0", True, True, 3)]),
    ("the window includes a change exactly 2,922 days before",
     [change(1, "2016-01-01", "restrict"), change(2, "2018-01-01", "expand"),
      change(3, "2020-01-01", "restrict"), change(4, "2024-01-01", "expand")],
     [("T-00001", "-1", "-1", False, False, 0), ("T-00002", "1", "0", True, False, 1),
      ("T-00003", "-1", "-1", True, False, 2), ("T-00004", "1", "0", True, True, 3)]),
    ("but not one 2,923 days before",
     [change(1, "2016-01-01", "restrict"), change(2, "2018-01-01", "expand"),
      change(3, "2020-01-01", "restrict"), change(4, "2024-01-02", "expand")],
     [("T-00001", "-1", "-1", False, False, 0), ("T-00002", "1", "0", True, False, 1),
      ("T-00003", "-1", "-1", True, False, 2), ("T-00004", "1", "0", True, False, 2)]),
    ("only a reversal is an oscillation, however many turns came before",
     [change(1, "2018-01-01", "restrict"), change(2, "2019-01-01", "expand"),
      change(3, "2020-01-01", "restrict"), change(4, "2021-01-01", "expand"),
      change(5, "2022-01-01", "expand")],
     [("T-00001", "-1", "-1", False, False, 0), ("T-00002", "1", "0", True, False, 1),
      ("T-00003", "-1", "-1", True, False, 2), ("T-00004", "1", "0", True, True, 3),
      ("T-00005", "1", "1", False, False, 3)]),
    ("only enacted records of the scope count; ties on date go in id order",
     [change(2, "2001-01-01", "restrict"), change(1, "2001-01-01", "expand"),
      change(3, "2002-01-01", "restrict", status="withdrawn"),
      change(4, "2002-01-01", "restrict", target="students"),
      change(5, "2002-01-01", "restrict", jurisdiction="DE")],
     [("T-00001", "1", "1", False, False, 0), ("T-00002", "-1", "0", True, False, 1)]),
    ("no enacted change, no trajectory", [change(1, "2001-01-01", "expand", status="proposed")],
     []),
]  # fmt: skip


@pytest.mark.parametrize(("case", "records", "expected"), CASES, ids=[c[0] for c in CASES])
def test_steps_reversals_and_oscillations(
    case: str, records: list[PolicyChange], expected: list[tuple[Any, ...]]
) -> None:
    assert marks(scope(records)) == expected


def test_elections_come_from_the_records_of_the_scope() -> None:
    t = scope(
        [
            change(1, "2001-01-01", "expand", context={"next_election_on": "2001-07-29"}),
            change(2, "2001-03-01", "expand", context={"next_election_on": "2001-07-29"}),
            change(3, "2003-01-01", "expand", context={"next_election_on": "2003-11-09"}),
            change(4, "2003-01-01", "expand", target="students",
                   context={"next_election_on": "2004-07-11"}),
        ]
    )  # fmt: skip
    assert t.elections == (dt.date(2001, 7, 29), dt.date(2003, 11, 9))


def test_the_real_border_measures_turned_once(examples: list[PolicyChange]) -> None:
    t = trajectory(examples, "JP", "border_control", "all_migrants")
    assert marks(t) == [
        ("JP-2020-COVID-ENTRY-BAN", "-2", "-2", False, False, 0),
        ("JP-2022-BORDER-PARTIAL", "1", "-1", True, False, 1),
        ("JP-2022-BORDER-REOPEN", "2", "1", False, False, 1),
    ]
    assert [c.record.id for c in t.reversals] == ["JP-2022-BORDER-PARTIAL"]
    assert t.elections == (dt.date(2021, 10, 31), dt.date(2022, 7, 10), dt.date(2024, 10, 27))


def test_the_table_in_english_and_japanese(examples: list[PolicyChange]) -> None:
    t = trajectory(examples, "JP", "border_control", "all_migrants")
    assert render_text(t) == (
        "Policy trajectory: JP / border_control / all_migrants\n"
        "date        change                   direction  magnitude  step  level\n"
        "2020-02-01  JP-2020-COVID-ENTRY-BAN  restrict   major      -2    -2\n"
        "2021-10-31  ── election\n"
        "2022-03-01  JP-2022-BORDER-PARTIAL   expand     mid-level  +1    -1     reversal\n"
        "2022-07-10  ── election\n"
        "2022-10-11  JP-2022-BORDER-REOPEN    expand     major      +2    1\n"
        "2024-10-27  ── election\n"
        "3 changes, 1 reversal, 0 oscillations, 3 elections\n"
    )
    assert render_text(t, "ja") == (
        "政策の軌跡：JP・水際対策（border_control）・外国人全般（all_migrants）\n"
        "施行日      変更                     方向  規模    段差  累積\n"
        "2020-02-01  JP-2020-COVID-ENTRY-BAN  抑制  大規模  -2    -2\n"
        "2021-10-31  ── 国政選挙\n"
        "2022-03-01  JP-2022-BORDER-PARTIAL   拡大  中規模  +1    -1    方針の反転\n"
        "2022-07-10  ── 国政選挙\n"
        "2022-10-11  JP-2022-BORDER-REOPEN    拡大  大規模  +2    1\n"
        "2024-10-27  ── 国政選挙\n"
        "変更3件、方針の反転1件、政策の振れ0件、国政選挙3回\n"
    )
    empty = trajectory(examples, "JP", "exit", "students")
    assert render_text(empty) == (
        "Policy trajectory: JP / exit / students\nno enacted changes in this scope\n"
    )
    assert Decimal(str(t.changes[-1].level)) == 1


# --- the chart --------------------------------------------------------------------------------

# A crowded scope: twelve changes in eight years, nine reversals, seven oscillations.
CROWDED = scope(
    [
        change(n, (dt.date(2010, 1, 1) + dt.timedelta(days=240 * n)).isoformat(), direction,
               magnitude, context={"next_election_on": f"{2010 + n}-07-10"} if n % 3 == 0 else {})
        for n, (direction, magnitude) in enumerate(
            [("restrict", "major"), ("expand", "mid_level"), ("restrict", "minor"),
             ("expand", "fine_tuning"), ("expand", "major"), ("restrict", "mid_level"),
             ("expand", "minor"), ("neutral", "minor"), ("restrict", "major"),
             ("expand", "mid_level"), ("restrict", "minor"), ("expand", "major")]
        )
    ]
)  # fmt: skip


def labels_of(t: Trajectory, lang: str = "en") -> tuple[Any, list[Annotation], list[Any]]:
    """The chart's axes, its labels of changes and their text boxes (leader lines left out)."""
    drawn = figure(t, lang, japanese_font() if lang == "ja" else None)
    drawn.canvas.draw()  # type: ignore[attr-defined]
    renderer = drawn.canvas.get_renderer()  # type: ignore[attr-defined]
    ax = drawn.axes[0]
    labels = [a for a in ax.texts if isinstance(a, Annotation) and a.get_text().startswith("T-")]
    return ax, labels, [Text.get_window_extent(a, renderer) for a in labels]


def passes_through(segment: Any, box: Any) -> bool:
    (x0, y0), (x1, y1) = segment
    return any(box.contains(x0 + (x1 - x0) * f / 100, y0 + (y1 - y0) * f / 100) for f in range(101))


def test_every_change_is_labelled_and_no_label_covers_another() -> None:
    assert len(CROWDED.reversals) == 9 and len(CROWDED.oscillations) == 7
    ax, labels, boxes = labels_of(CROWDED)
    assert sorted(a.get_text().split("\n")[0] for a in labels) == sorted(
        c.record.id for c in CROWDED.changes
    )
    for n, a in enumerate(boxes):
        for b in boxes[n + 1 :]:
            assert not a.overlaps(b), (a, b)
    frame = ax.get_window_extent()
    assert all(frame.contains(b.x0, b.y0) and frame.contains(b.x1, b.y1) for b in boxes)
    # no label covers the point of another change
    points = {c.record.id: ax.transData.transform((date2num(c.on), float(c.level))) for c in
              CROWDED.changes}  # fmt: skip
    for label, box in zip(labels, boxes, strict=True):
        own = label.get_text().split("\n")[0]
        assert not any(box.contains(*p) for key, p in points.items() if key != own), own
    # a leader line runs from its label to its own change, through no other label
    leaders = [(a, a.arrow_patch.get_path().vertices) for a in labels if a.arrow_patch]
    assert leaders, "the crowded chart needs some leader lines"
    for label, vertices in leaders:
        segment = (vertices[0], vertices[-1])
        own = label.get_text().split("\n")[0]
        assert abs(vertices[-1] - points[own]).max() < 20
        others = [box for a, box in zip(labels, boxes, strict=True) if a is not label]
        others += [Bbox.from_extents(x - 8, y - 8, x + 8, y + 8) for key, (x, y) in
                   points.items() if key != own]  # fmt: skip
        assert not any(passes_through(segment, box) for box in others), own


def test_labels_carry_the_date_and_the_marks() -> None:
    _, labels, _ = labels_of(CROWDED)
    texts = {a.get_text().split("\n")[0]: a.get_text() for a in labels}
    assert texts["T-00000"] == "T-00000\n2010-01-01"
    assert texts["T-00001"] == "T-00001\n2010-08-29\nreversal"
    assert texts["T-00003"] == "T-00003\n2011-12-22\nreversal, oscillation (3)"


def test_the_svg_is_the_same_every_time(tmp_path: Path) -> None:
    first, lang = chart(CROWDED, "svg")
    assert lang == "en" and first.startswith(b"<?xml")
    assert chart(CROWDED, "svg")[0] == first
    assert draw(CROWDED, tmp_path / "c.svg") == "en"
    assert (tmp_path / "c.svg").read_bytes() == first
    assert b"<dc:date>" not in first


def test_a_png_is_a_picture_of_the_chart(tmp_path: Path) -> None:
    draw(CROWDED, tmp_path / "c.png")
    data = (tmp_path / "c.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1650, 900)


def test_other_formats_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"a chart is written as .svg or .png, not `.pdf`"):
        draw(CROWDED, tmp_path / "c.pdf")
    assert not (tmp_path / "c.pdf").exists()


@pytest.mark.skipif(japanese_font() is None, reason="no font with Japanese glyphs installed")
def test_a_japanese_chart_with_a_japanese_font(examples: list[PolicyChange]) -> None:
    t = trajectory(examples, "JP", "border_control", "all_migrants")
    assert chart(t, "png", "ja")[1] == "ja"
    drawn = figure(t, "ja", japanese_font())
    words = [text.get_text() for text in drawn.texts]
    assert words[0] == "政策の軌跡：JP・水際対策（border_control）・外国人全般（all_migrants）"
    ax = drawn.axes[0]
    assert ax.get_xlabel() == "施行日"
    assert "JP-2022-BORDER-PARTIAL\n2022年3月1日\n方針の反転" in [a.get_text() for a in ax.texts]


def test_without_a_japanese_font_the_chart_falls_back_to_english(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import checker.trajectory

    monkeypatch.setattr(checker.trajectory, "japanese_font", lambda: None)
    assert draw(CROWDED, tmp_path / "c.svg", "ja") == "en"
    assert (tmp_path / "c.svg").read_bytes() == chart(CROWDED, "svg", "en")[0]
    code = main(
        ["trajectory", "--jurisdiction", "JP", "--area", "border_control", "--target",
         "all_migrants", "--history", str(HISTORY), "--chart", str(tmp_path / "t.png"),
         "--lang", "ja"]
    )  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0
    assert out.startswith("政策の軌跡：JP・水際対策")
    assert out.endswith(f"chart written to {tmp_path / 't.png'}\n")
    assert err == (
        "note: no font with Japanese glyphs is installed, so the chart's words are in English "
        "(install fonts-noto-cjk or fonts-ipafont-gothic)\n"
    )


# --- the command ------------------------------------------------------------------------------


def test_bcm_trajectory_from_the_store(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, store_url: str
) -> None:
    assert main(["history", "import", str(HISTORY), "--db", store_url]) == 0
    capsys.readouterr()
    chart_file = tmp_path / "trainees.svg"
    code = main(
        ["trajectory", "--jurisdiction", "JP", "--area", "entry_stay", "--target", "trainees",
         "--db", store_url, "--chart", str(chart_file)]
    )  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.splitlines()[0] == "Policy trajectory: JP / entry_stay / trainees"
    assert "2027-04-01  JP-2027-ESD          expand     major      +2    6" in out
    assert "4 changes, 0 reversals, 0 oscillations, 4 elections" in out
    assert out.endswith(f"chart written to {chart_file}\n")
    assert chart_file.read_bytes().startswith(b"<?xml")


def test_bcm_trajectory_refuses_a_chart_it_cannot_draw(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = main(
        ["trajectory", "--jurisdiction", "JP", "--area", "entry_stay", "--target", "trainees",
         "--history", str(HISTORY), "--chart", str(tmp_path / "t.pdf")]
    )  # fmt: skip
    out, _ = capsys.readouterr()
    assert code == 2
    assert out.endswith("cannot draw the chart: a chart is written as .svg or .png, not `.pdf`\n")


@pytest.mark.parametrize(
    ("area", "target", "title"),
    [
        (
            "border_control",
            "citizens_abroad",
            "JP・水際対策（border_control）・在外邦人（citizens_abroad）",
        ),
        (
            "entry_stay",
            "low_skilled_workers",
            "JP・入国・在留（entry_stay）・専門的・技術的分野以外の労働者（low_skilled_workers）",
        ),
        ("exit", "seasonal_farm_workers", "JP・出国・退去（exit）・seasonal_farm_workers"),
    ],
)
def test_a_scope_is_named_in_the_words_of_the_reports(area: str, target: str, title: str) -> None:
    # The chart, the trajectory text and every report use one Japanese vocabulary; a target
    # outside it (targets are open) is shown as written.
    t = Trajectory("JP", area, target, (), ())
    assert scope_title(t, "ja") == title
    assert term("target", target, "ja") in title
