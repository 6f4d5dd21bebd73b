"""`bcm check --format ... --output ...` and `bcm lint --format sarif` as a user runs them from
the repository root; SARIF of real findings and real lint diagnostics against the schema."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from checker.cli import main

from .conftest import HISTORY, PROPOSALS, ROOT

SCHEMA = json.loads((Path(__file__).parent / "sarif-2.1.0.json").read_text(encoding="utf-8"))
ALL = list(PROPOSALS.values())


def _schema_problems(log: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft4Validator(SCHEMA)
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(log)]


@pytest.fixture(autouse=True)
def _at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


def _check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(["check", *args, "--history", HISTORY])
    return code, capsys.readouterr().out


@pytest.mark.parametrize(
    ("format", "first_line"),
    [
        ("text", "Consistency report: JP-DEMO-SSW-FREEZE"),
        ("md", "# Consistency reports"),
        ("html", "<!DOCTYPE html>"),
        ("json", "["),
        ("sarif", "{"),
        ("junit", '<?xml version="1.0" encoding="UTF-8"?>'),
    ],
)
def test_every_format_to_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, format: str, first_line: str
) -> None:
    target = tmp_path / f"report.{format}"
    code, out = _check(capsys, *ALL, "--format", format, "--output", str(target))
    assert code == 1  # one of the three is in conflict
    assert out == ""
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0] == first_line
    assert not list(tmp_path.glob(".*.tmp"))


def test_text_in_a_pipe_has_no_colour_and_ends_with_the_summary(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _check(capsys, *ALL, "--lang", "ja")
    assert code == 1
    assert "\x1b[" not in out
    assert "判定: 抵触" in out
    last = [line.split() for line in out.rstrip().splitlines()[-3:]]
    assert last == [
        ["JP-DEMO-SSW-FREEZE", "抵触", "1", "1", "2", "1"],
        ["JP-DEMO-VOCATIONAL-GRADUATES", "緊張関係", "(要調整)", "0", "0", "1", "0"],
        ["JP-DEMO-GRADUATE-JOBSEEK", "整合", "0", "0", "0", "0"],
    ]


def test_sarif_of_findings_validates_and_points_at_each_rule(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _check(capsys, *ALL, "--format", "sarif", "--lang", "ja")
    log = json.loads(out)
    assert _schema_problems(log) == []
    results = log["runs"][0]["results"]
    assert {r["properties"]["proposal"] for r in results} == {
        "JP-DEMO-SSW-FREEZE",
        "JP-DEMO-VOCATIONAL-GRADUATES",
    }
    for result in results:
        location = result["locations"][0]["physicalLocation"]
        lines = (ROOT / location["artifactLocation"]["uri"]).read_text("utf-8").splitlines()
        line = lines[location["region"]["startLine"] - 1]
        assert line.strip().startswith(f"rule {result['ruleId']} "), line
        related = result["relatedLocations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert (ROOT / related).is_file()
    assert code == 1


def test_junit_for_a_pipeline(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(capsys, *ALL, "--format", "junit", "--fail-on", "tension")
    assert code == 1
    suites = ET.fromstring(out).findall("testsuite")
    assert [(s.get("name"), s.get("failures")) for s in suites] == [
        ("JP-DEMO-SSW-FREEZE", "4"),  # conflict, reversal and two tensions
        ("JP-DEMO-VOCATIONAL-GRADUATES", "1"),
        ("JP-DEMO-GRADUATE-JOBSEEK", "0"),
    ]
    assert len({s.get("tests") for s in suites}) == 1


def test_one_proposal_as_json_is_an_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = _check(capsys, PROPOSALS["demo-consistent"], "--format", "json")
    assert code == 0
    assert json.loads(out)["verdict"] == "consistent"


def test_lint_diagnostics_as_sarif(capsys: pytest.CaptureFixture[str]) -> None:
    bad = "tests/lang/golden/E101-unknown-principle.bcm"
    code = main(["lint", bad, "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 1
    assert _schema_problems(log) == []
    [result] = log["runs"][0]["results"]
    assert result["ruleId"] == "E101"
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == bad
    line = (ROOT / bad).read_text("utf-8").splitlines()[location["region"]["startLine"] - 1]
    start, end = location["region"]["startColumn"], location["region"]["endColumn"]
    assert line[start - 1 : end - 1] == "legal_integrety"


def test_a_clean_pack_is_an_empty_sarif_log(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["lint", "rules", "--format", "sarif"])
    log = json.loads(capsys.readouterr().out)
    assert code == 0
    assert _schema_problems(log) == []
    assert log["runs"][0]["results"] == []
