"""The HTML report in headless Chromium: it renders without console errors or failed loads, the
balance profile and the trajectory chart are drawn where the page puts them, and it prints on
A4.

Chromium is Debian's `chromium` package; where it is missing the set-up installs it (as root,
with apt-get), and the tests are skipped, saying why, where that cannot be done. Screenshots
are written to $BCM_SCREENSHOTS when it is set, to look at.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from checker.report import render

from .browser import Browser, Page, find_chromium, install_chromium
from .conftest import LANGS, PROPOSALS, Examples

# Colours the page draws with: the verdict states and the trajectory's line and proposal.
CONSISTENT, TENSION, CONFLICT = (0x2E, 0x6B, 0x34), (0x9A, 0x5B, 0x00), (0xA3, 0x22, 0x1B)
TRAJECTORY_LINE, WHITE = (0x1D, 0x35, 0x57), (0xFF, 0xFF, 0xFF)
STATE_COLOUR = {"consistent": CONSISTENT, "tension": TENSION, "conflict": CONFLICT}
EXPECTED = {"demo-conflict": "conflict", "demo-tension": "tension", "demo-consistent": "consistent"}


@pytest.fixture(scope="session")
def chromium() -> str:
    binary = find_chromium()
    if binary is None:
        binary, why = install_chromium()
        if binary is None:
            pytest.skip(f"headless Chromium is not available and could not be installed: {why}")
    return binary


@pytest.fixture(scope="session")
def browser(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    running = Browser(chromium, tmp_path_factory.mktemp("chromium-profile"))
    yield running
    running.close()


def _open(
    browser: Browser, html: str, folder: Path, name: str, media: str = "screen", width: int = 1000
) -> Page:
    page_file = folder / f"{name}.html"
    page_file.write_text(html, encoding="utf-8")
    return browser.open(page_file.as_uri(), width=width, media=media)


def _box(page: Page, selector: str) -> dict[str, float]:
    box: dict[str, float] = page.evaluate(
        f"(() => {{ const e = document.querySelector({selector!r}); if (!e) return null;"
        " const r = e.getBoundingClientRect();"
        " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; })()"
    )
    assert box is not None, f"{selector} is not on the page"
    return box


def _colours(png: bytes) -> list[tuple[int, tuple[int, int, int]]]:
    """How many pixels of each colour a screenshot has."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    found = image.getcolors(maxcolors=image.width * image.height)
    assert found is not None
    return found  # type: ignore[return-value]


def _share(colours: list[tuple[int, tuple[int, int, int]]], colour: tuple[int, int, int]) -> float:
    """The share of pixels near `colour` (anti-aliased edges differ a little)."""
    near = sum(
        n for n, c in colours if all(abs(a - b) <= 24 for a, b in zip(c, colour, strict=True))
    )
    return near / sum(n for n, _ in colours)


def _save(name: str, png: bytes) -> None:
    folder = os.environ.get("BCM_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        (Path(folder) / name).write_bytes(png)


def test_the_browser_reports_console_errors_and_failed_loads(
    browser: Browser, tmp_path: Path
) -> None:
    """The check below can fail: a broken page is caught."""
    broken = (
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        '<img src="missing.png"><script>console.error("boom")</script></body></html>'
    )
    page = _open(browser, broken, tmp_path, "broken")
    assert "console error: boom" in page.problems
    assert any("ERR_FILE_NOT_FOUND" in p and "missing.png" in p for p in page.problems)


@pytest.mark.parametrize("name", list(PROPOSALS))
@pytest.mark.parametrize("lang", LANGS)
def test_the_report_renders_without_console_errors(
    examples: Examples, browser: Browser, tmp_path: Path, lang: str, name: str
) -> None:
    checked = examples.check([name], lang)
    page = _open(browser, render("html", checked.reports, checked.context), tmp_path, name)
    assert page.problems == []
    assert page.evaluate("document.documentElement.lang") == lang
    banner = page.evaluate("document.querySelector('#verdict .verdict').textContent")
    expected = {
        "en": EXPECTED[name].upper(),
        "ja": {"conflict": "抵触", "tension": "緊張関係 (要調整)", "consistent": "整合"}[
            EXPECTED[name]
        ],
    }
    assert banner == expected[lang]


@pytest.mark.parametrize("name", list(PROPOSALS))
@pytest.mark.parametrize("lang", LANGS)
def test_the_balance_profile_and_the_trajectory_are_visible(
    examples: Examples, browser: Browser, tmp_path: Path, lang: str, name: str
) -> None:
    checked = examples.check([name], lang)
    report = checked.reports[0]
    page = _open(browser, render("html", checked.reports, checked.context), tmp_path, name)
    if os.environ.get("BCM_SCREENSHOTS"):
        height = page.evaluate("document.body.scrollHeight")
        _save(
            f"{lang}-{name}.png", page.screenshot({"x": 0, "y": 0, "width": 1000, "height": height})
        )

    profile = _box(page, "#balance-profile")
    chart = _box(page, "#trajectory-chart")
    for box in (profile, chart):
        assert box["width"] >= 500 and box["height"] >= 150, box
    assert profile["y"] + profile["height"] <= chart["y"], "the profile comes before the chart"

    # Every principle is named in the profile, with its title in the report's language.
    shown = page.evaluate("document.querySelector('#balance-profile').textContent")
    for title in checked.context.titles.values():
        assert title in shown

    # The profile is drawn: the cell of each principle's state is filled with its colour.
    pixels = _colours(page.screenshot(profile))
    assert _share(pixels, WHITE) < 0.9
    states = {f.kind.value for f in report.findings}
    assert _share(pixels, CONSISTENT) > 0.005 or states >= {"conflict", "tension"}
    assert (_share(pixels, CONFLICT) > 0.005) == (report.verdict.value == "conflict")
    if report.verdict.value == "tension":
        assert _share(pixels, TENSION) > 0.005

    # The chart is drawn: the enacted path in navy, the proposal in red.
    pixels = _colours(page.screenshot(chart))
    assert _share(pixels, TRAJECTORY_LINE) > 0.002
    assert _share(pixels, CONFLICT) > 0.0003
    marks = page.evaluate("document.querySelectorAll('#trajectory-chart circle.change').length")
    assert marks >= 1


def test_three_reports_in_one_file(examples: Examples, browser: Browser, tmp_path: Path) -> None:
    checked = examples.check(list(PROPOSALS), "ja")
    page = _open(browser, render("html", checked.reports, checked.context), tmp_path, "all")
    assert page.problems == []
    rows = page.evaluate(
        "[...document.querySelectorAll('#summary tbody tr')].map(r => r.cells[1].textContent)"
    )
    assert rows == ["✗ 抵触", "△ 緊張関係 (要調整)", "✓ 整合"]
    assert page.evaluate("document.querySelectorAll('#balance-profile').length") == 3


@pytest.mark.parametrize("lang", LANGS)
def test_the_report_prints_on_a4(
    examples: Examples, browser: Browser, tmp_path: Path, lang: str
) -> None:
    checked = examples.check(["demo-conflict"], lang)
    html = render("html", checked.reports, checked.context)
    page = _open(browser, html, tmp_path, "print", media="print", width=794)
    # Nothing wider than the page (A4 at 96 dpi is 794 px wide).
    assert page.evaluate("document.documentElement.scrollWidth") <= 794
    pdf = page.pdf()
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes, "no page in the PDF"
    for width, height in boxes:
        assert abs(float(width) - 595.3) < 2 and abs(float(height) - 841.9) < 2
    assert 2 <= len(boxes) <= 4
    _save(f"{lang}-print.pdf", pdf)
