"""A pytest-bdd step library for rule packs, registered as the pytest plugin `bcm`.

Any project with bcm installed can write Gherkin scenarios for its own rule pack and use these
steps without copying them (see docs/testing-rule-packs.md):

    Given the rule pack "rules"
    And the history:
      | id   | effective_on | direction |
      | H-1  | 2019-04-01   | expand    |
    And a proposal with:
      | field        | value      |
      | direction    | restrict   |
      | effective_on | 2021-04-01 |
    When the proposal is checked
    Then the verdict is "conflict"
    And a finding "unprincipled_reversal" is reported with kind "reversal" and severity "high"
    And the message of "unprincipled_reversal" contains "H-1"

Japanese step texts are given too (`# language: ja`). Steps share state through fixtures
(`target_fixture=`), so a project may add steps of its own beside them.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

try:
    from pytest_bdd import given, parsers, then, when
except ImportError:  # pragma: no cover - bcm installed without its test extra
    _HAVE_BDD = False
else:
    _HAVE_BDD = True

# A proposal that breaks no rule of the default pack; scenarios change only what they test.
BASE_PROPOSAL: dict[str, Any] = {
    "id": "PROPOSAL",
    "title": "A proposal under test",
    "jurisdiction": "JP",
    "area": "entry_stay",
    "target": "skilled_workers",
    "direction": "neutral",
    "magnitude": "minor",
    "instrument": "ministerial_ordinance",
    "legal_basis": ["ICRRA Art. 7(1)(ii)"],
    "proposed_on": "2024-10-01",
    "effective_on": "2025-04-01",
    "rationale": {"principles": ["legal_integrity"]},
}

# Defaults for a history record given as a table row: only what a row leaves out.
BASE_RECORD: dict[str, Any] = {
    "jurisdiction": "JP",
    "area": "entry_stay",
    "target": "skilled_workers",
    "direction": "neutral",
    "magnitude": "minor",
    "instrument": "act",
    "legal_basis": ["ICRRA"],
    "status": "enacted",
}


@dataclass
class Scenario:
    """What a scenario has said so far: the pack, the history, the proposal, the outcome."""

    pack_path: str = "rules"
    history: list[dict[str, Any]] = field(default_factory=list)
    proposal: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(BASE_PROPOSAL))
    params: dict[str, str] = field(default_factory=dict)
    report: Any = None
    reports: dict[str, Any] = field(default_factory=dict)
    exit_code: int | None = None
    output: str = ""
    error: Exception | None = None


def parse_cell(text: str) -> Any:
    """A table cell as a value: JSON where it reads as JSON (numbers, true, lists), else text."""
    stripped = text.strip()
    if stripped == "":
        return None
    try:
        return json.loads(stripped)
    except ValueError:
        return stripped


def set_path(doc: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `impact.expected_inflow` style paths, creating objects on the way."""
    *parents, last = dotted.strip().split(".")
    target = doc
    for name in parents:
        target = target.setdefault(name, {})
    if value is None and last in target and dotted.strip() not in _NULLABLE:
        del target[last]
    else:
        target[last] = value


# Fields whose empty cell means null rather than "leave it out".
_NULLABLE = {
    "impact.expected_inflow",
    "impact.integration_capacity",
    "impact.transition_days",
    "context.next_election_on",
    "proposed_on",
}


def _rows(datatable: list[list[str]]) -> list[dict[str, str]]:
    header, *body = datatable
    return [dict(zip(header, row, strict=True)) for row in body]


def _load_pack(path: str) -> Any:
    from checker.api import load_pack

    cache: dict[str, Any] = _PACKS
    if path not in cache:
        cache[path] = load_pack(path)
    return cache[path]


_PACKS: dict[str, Any] = {}


def _finding(state: Scenario, rule: str) -> Any:
    assert state.report is not None, "the proposal has not been checked yet"
    for f in state.report.findings:
        if f.rule == rule:
            return f
    fired = ", ".join(f.rule for f in state.report.findings) or "none"
    raise AssertionError(f"no finding {rule!r}; findings: {fired}")


def _check(state: Scenario, lang: str | None = None) -> None:
    pack = _load_pack(state.pack_path)
    state.report = pack.check(state.proposal, state.history, lang=lang, params=state.params)
    state.reports[lang or pack.default_lang] = state.report


def _run_cli(state: Scenario, command: str, tmp: Path) -> None:
    from checker.cli import main

    proposal_file = tmp / "proposal.json"
    proposal_file.write_text(json.dumps(state.proposal, ensure_ascii=False), encoding="utf-8")
    history_file = tmp / "history.jsonl"
    history_file.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in state.history), encoding="utf-8"
    )
    words = [
        w.replace("{proposal}", str(proposal_file)).replace("{history}", str(history_file))
        for w in shlex.split(command)
    ]
    if words and words[0] == "bcm":
        words = words[1:]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            state.exit_code = main(words)
        except SystemExit as exit_:  # argparse usage errors
            state.exit_code = int(exit_.code or 0)
    state.output = out.getvalue()


if _HAVE_BDD:

    @pytest.fixture
    def bcm_scenario() -> Scenario:
        return Scenario()

    # --- given -----------------------------------------------------------------------------

    @given(parsers.parse('the rule pack "{path}"'), target_fixture="bcm_scenario")
    @given(parsers.parse('ルールパック "{path}" を使う'), target_fixture="bcm_scenario")
    def given_pack(bcm_scenario: Scenario, path: str) -> Scenario:
        bcm_scenario.pack_path = path
        return bcm_scenario

    @given("the history:", target_fixture="bcm_scenario")
    @given("次の政策履歴がある:", target_fixture="bcm_scenario")
    def given_history_table(bcm_scenario: Scenario, datatable: list[list[str]]) -> Scenario:
        for row in _rows(datatable):
            record = copy.deepcopy(BASE_RECORD)
            for key, cell in row.items():
                set_path(record, key, parse_cell(cell))
            record.setdefault("title", record["id"])
            bcm_scenario.history.append(record)
        return bcm_scenario

    @given(parsers.parse('the history from "{path}"'), target_fixture="bcm_scenario")
    @given(parsers.parse('政策履歴 "{path}" がある'), target_fixture="bcm_scenario")
    def given_history_file(bcm_scenario: Scenario, path: str) -> Scenario:
        from checker.loading import load_history

        bcm_scenario.history.extend(
            r.model_dump(mode="json", exclude_none=True) for r in load_history(path)
        )
        return bcm_scenario

    @given("a proposal:", target_fixture="bcm_scenario")
    @given("次の政策案がある:", target_fixture="bcm_scenario")
    def given_proposal_text(bcm_scenario: Scenario, docstring: str) -> Scenario:
        import yaml

        from checker.loading import _SafeLoader

        text = docstring.strip()
        data = json.loads(text) if text.startswith("{") else yaml.load(text, Loader=_SafeLoader)
        bcm_scenario.proposal = data
        return bcm_scenario

    @given("a proposal with:", target_fixture="bcm_scenario")
    @given("次の内容の政策案がある:", target_fixture="bcm_scenario")
    def given_proposal_table(bcm_scenario: Scenario, datatable: list[list[str]]) -> Scenario:
        for row in _rows(datatable):
            key = row.get("field") or row.get("項目") or ""
            value = row.get("value") if "value" in row else row.get("値", "")
            set_path(bcm_scenario.proposal, key, parse_cell(value or ""))
        return bcm_scenario

    @given(parsers.parse('the proposal\'s "{path}" is {value}'), target_fixture="bcm_scenario")
    def given_proposal_field(bcm_scenario: Scenario, path: str, value: str) -> Scenario:
        set_path(bcm_scenario.proposal, path, parse_cell(value))
        return bcm_scenario

    @given(parsers.parse('the parameter "{name}" is "{value}"'), target_fixture="bcm_scenario")
    @given(parsers.parse('パラメータ "{name}" を "{value}" とする'), target_fixture="bcm_scenario")
    def given_param(bcm_scenario: Scenario, name: str, value: str) -> Scenario:
        bcm_scenario.params[name] = value
        return bcm_scenario

    # --- when ------------------------------------------------------------------------------

    @when("the proposal is checked")
    @when("政策案を検査する")
    def when_checked(bcm_scenario: Scenario) -> None:
        _check(bcm_scenario)

    @when(parsers.parse('the proposal is checked in "{lang}"'))
    @when(parsers.parse('政策案を "{lang}" で検査する'))
    def when_checked_in(bcm_scenario: Scenario, lang: str) -> None:
        _check(bcm_scenario, lang)

    @when(parsers.parse('I run "{command}"'))
    @when(parsers.parse('"{command}" を実行する'))
    def when_run(bcm_scenario: Scenario, command: str, tmp_path: Path) -> None:
        _run_cli(bcm_scenario, command, tmp_path)

    # --- then ------------------------------------------------------------------------------

    @then(parsers.parse('the verdict is "{verdict}"'))
    @then(parsers.parse('判定は "{verdict}" である'))
    def then_verdict(bcm_scenario: Scenario, verdict: str) -> None:
        assert bcm_scenario.report is not None, "the proposal has not been checked yet"
        found = ", ".join(f"{f.rule} ({f.kind.value})" for f in bcm_scenario.report.findings)
        assert bcm_scenario.report.verdict.value == verdict, f"findings: {found or 'none'}"

    @then(parsers.parse('a finding "{rule}" is reported'))
    @then(parsers.parse('ルール "{rule}" の指摘がある'))
    def then_finding(bcm_scenario: Scenario, rule: str) -> None:
        _finding(bcm_scenario, rule)

    @then(
        parsers.parse('a finding "{rule}" is reported with kind "{kind}" and severity "{severity}"')
    )
    @then(
        parsers.parse('ルール "{rule}" の指摘があり、種別は "{kind}"、重大度は "{severity}" である')
    )
    def then_finding_kind(bcm_scenario: Scenario, rule: str, kind: str, severity: str) -> None:
        f = _finding(bcm_scenario, rule)
        assert (f.kind.value, f.severity.value) == (kind, severity)

    @then(parsers.parse('the finding "{rule}" is under the principle "{principle}"'))
    def then_finding_principle(bcm_scenario: Scenario, rule: str, principle: str) -> None:
        assert _finding(bcm_scenario, rule).principle.value == principle

    @then(parsers.parse('no finding "{rule}" is reported'))
    @then(parsers.parse('ルール "{rule}" の指摘はない'))
    def then_no_finding(bcm_scenario: Scenario, rule: str) -> None:
        assert bcm_scenario.report is not None, "the proposal has not been checked yet"
        fired = [f.rule for f in bcm_scenario.report.findings]
        assert rule not in fired, f"{rule!r} was reported: {fired}"

    @then("there are no findings")
    @then("指摘はない")
    def then_no_findings(bcm_scenario: Scenario) -> None:
        assert bcm_scenario.report is not None
        assert [f.rule for f in bcm_scenario.report.findings] == []

    @then(parsers.parse('the message of "{rule}" contains "{text}"'))
    @then(parsers.parse('ルール "{rule}" の指摘に "{text}" が含まれる'))
    def then_message(bcm_scenario: Scenario, rule: str, text: str) -> None:
        message = _finding(bcm_scenario, rule).message
        assert text in message, f"{text!r} not in {message!r}"

    @then(parsers.parse('the remedy of "{rule}" contains "{text}"'))
    @then(parsers.parse('ルール "{rule}" の改善策に "{text}" が含まれる'))
    def then_remedy(bcm_scenario: Scenario, rule: str, text: str) -> None:
        remedy = _finding(bcm_scenario, rule).remedy
        assert text in remedy, f"{text!r} not in {remedy!r}"

    @then(parsers.parse('the finding "{rule}" rests on "{ids}"'))
    @then(parsers.parse('ルール "{rule}" の指摘は "{ids}" に基づく'))
    def then_related(bcm_scenario: Scenario, rule: str, ids: str) -> None:
        expected = [i.strip() for i in ids.split(",") if i.strip()]
        assert _finding(bcm_scenario, rule).related == expected

    @then(parsers.parse('the JSON report\'s verdict is "{verdict}"'))
    def then_json_verdict(bcm_scenario: Scenario, verdict: str) -> None:
        assert json.loads(bcm_scenario.output)["verdict"] == verdict, bcm_scenario.output

    @then(parsers.parse('the JSON report has a finding "{rule}"'))
    def then_json_finding(bcm_scenario: Scenario, rule: str) -> None:
        report = json.loads(bcm_scenario.output)
        assert rule in [f["rule"] for f in report["findings"]], bcm_scenario.output

    @then(parsers.parse("the exit code is {code:d}"))
    @then(parsers.parse("終了コードは {code:d} である"))
    def then_exit_code(bcm_scenario: Scenario, code: int) -> None:
        assert bcm_scenario.exit_code == code, bcm_scenario.output

    @then(parsers.parse('the output contains "{text}"'))
    @then(parsers.parse('出力に "{text}" が含まれる'))
    def then_output(bcm_scenario: Scenario, text: str) -> None:
        assert text in bcm_scenario.output, bcm_scenario.output
