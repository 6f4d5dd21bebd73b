"""The default rule pack (rules/): every rule of the Balanced Coexistence Model, case by case.

Each case is a base proposal that breaks nothing, plus the few fields that make one rule fire
or stay silent, and the history it is checked against. A case names every rule it expects to
fire, so a case also shows that its change triggers nothing else; the verdict follows from the
kinds of those rules as the spec defines it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from checker.api import Pack, load_pack
from checker.documents import Report
from checker.lang.fmt import format_text
from checker.loading import load_history

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "rules"
EXAMPLES = ROOT / "examples" / "jp"

# The rules the project requires, with their principle and kind (the table).
REQUIRED: dict[str, tuple[str, str]] = {
    "unprincipled_reversal": ("normative_coherence", "reversal"),
    "oscillation": ("normative_coherence", "tension"),
    "electoral_timing": ("normative_coherence", "tension"),
    "no_stated_principle": ("normative_coherence", "note"),
    "legal_basis_required": ("legal_integrity", "conflict"),
    "transition_for_residents": ("legal_integrity", "conflict"),
    "no_retroactive_restriction": ("legal_integrity", "conflict"),
    "instrument_fits_magnitude": ("legal_integrity", "conflict"),
    "inflow_within_capacity": ("integration_capacity", "conflict"),
    "capacity_margin": ("integration_capacity", "tension"),
    "capacity_assessed": ("integration_capacity", "tension"),
    "evidence_for_economic_claim": ("economic_rationality", "conflict"),
    "major_change_needs_evidence": ("economic_rationality", "tension"),
    "abrupt_major_change": ("social_stability", "tension"),
    "dignity_assessed_for_restriction": ("human_dignity", "tension"),
}
# Rules the pack adds from the model's text; they may only be notes or tensions.
EXTRA: dict[str, tuple[str, str]] = {
    "unexplained_change": ("social_stability", "note"),
}
RULE_TABLE = {**REQUIRED, **EXTRA}

# A minor expansion that breaks nothing: legal basis, a principle, evidence that moved 25%,
# inflow at 10% of capacity, 182 days' notice, the next election 566 days away.
BASE: dict[str, Any] = {
    "id": "JP-TEST-PROPOSAL",
    "title": "Test proposal",
    "jurisdiction": "JP",
    "area": "entry_stay",
    "target": "skilled_workers",
    "direction": "expand",
    "magnitude": "minor",
    "instrument": "ministerial_ordinance",
    "legal_basis": ["ICRRA Art. 7(1)(ii)"],
    "proposed_on": "2024-01-01",
    "effective_on": "2024-07-01",
    "rationale": {
        "principles": ["economic_rationality"],
        "statement": "Labour shortages in the sectors concerned.",
        "trigger": "evidence",
        "evidence": [{"indicator": "job_openings_ratio", "value": 1.5, "previous": 1.2}],
    },
    "impact": {"expected_inflow": 1000, "integration_capacity": 10000},
    "context": {"next_election_on": "2025-07-20", "announced_in_campaign": False},
}


def proposal(changes: dict[str, Any]) -> dict[str, Any]:
    """The base proposal with fields replaced, named by dotted paths."""
    doc = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        target = doc
        for name in parents:
            target = target.setdefault(name, {})
        target[last] = value
    return doc


def record(
    id: str,
    direction: str,
    effective_on: str,
    *,
    status: str = "enacted",
    target: str = "skilled_workers",
    area: str = "entry_stay",
    jurisdiction: str = "JP",
) -> dict[str, Any]:
    """A history record; by default in the base proposal's scope."""
    return {
        "id": id,
        "title": f"History record {id}",
        "jurisdiction": jurisdiction,
        "area": area,
        "target": target,
        "direction": direction,
        "magnitude": "mid_level",
        "instrument": "act",
        "legal_basis": ["ICRRA"],
        "effective_on": effective_on,
        "status": status,
    }


def ev(value: float | int, previous: float | int | None) -> dict[str, Any]:
    return {"indicator": "indicator", "value": value, "previous": previous}


@dataclass(frozen=True)
class Case:
    rule: str
    note: str
    changes: dict[str, Any] = field(default_factory=dict)
    history: tuple[dict[str, Any], ...] = ()
    fires: bool = True
    severity: str | None = None
    words: tuple[str, ...] = ()  # in the English message
    related: tuple[str, ...] | None = None
    also: frozenset[str] = frozenset()  # other rules the same proposal fires


def cases_of(rule: str, *rows: tuple[Any, ...]) -> list[Case]:
    """Cases from rows of (note, changes, history, severity or None when silent, extras)."""
    cases = []
    for row in rows:
        note, changes, history, severity, *rest = row
        extra: dict[str, Any] = rest[0] if rest else {}
        cases.append(
            Case(rule, note, changes, tuple(history), severity is not None, severity, **extra)
        )
    return cases


# --- normative_coherence ----------------------------------------------------------------------

# A restriction whose only evidence moved 4.2%: not principled.
REVERSE = {"direction": "restrict", "rationale.evidence": [ev(1.25, 1.2)]}
EXPANDED = record("JP-H-EXP", "expand", "2021-07-01")  # 1,096 days before the proposal


def reverse(changes: dict[str, Any]) -> dict[str, Any]:
    return {**REVERSE, **changes}


REVERSAL = cases_of(
    "unprincipled_reversal",
    (
        "a restriction 1,096 days after an expansion, no principled reason",
        REVERSE,
        [EXPANDED],
        "medium",
        {
            "words": ("JP-H-EXP", "expand", "2021-07-01", "1,096 days", "10%"),
            "related": ("JP-H-EXP",),
        },
    ),
    (
        "exactly reversal_window (1,461 days) after",
        REVERSE,
        [record("JP-H-EXP", "expand", "2020-07-01")],
        "medium",
        {"words": ("1,461 days",), "related": ("JP-H-EXP",)},
    ),
    (
        "1,462 days after: outside the window",
        REVERSE,
        [record("JP-H-EXP", "expand", "2020-06-30")],
        None,
    ),
    (
        "pledged in a campaign, 1,462 days after: any distance",
        reverse({"context.announced_in_campaign": True}),
        [record("JP-H-EXP", "expand", "2020-06-30")],
        "high",
        {"words": ("1,462 days",), "related": ("JP-H-EXP",)},
    ),
    (
        "an electoral pledge as trigger, 5,205 days after",
        reverse({"rationale.trigger": "electoral_pledge"}),
        [record("JP-H-EXP", "expand", "2010-04-01")],
        "high",
        {"related": ("JP-H-EXP",)},
    ),
    (
        "evidence moved exactly material_change (10%)",
        reverse({"rationale.evidence": [ev(1.32, 1.2)]}),
        [EXPANDED],
        None,
    ),
    (
        "evidence moved just under 10%",
        reverse({"rationale.evidence": [ev(1.3199, 1.2)]}),
        [EXPANDED],
        "medium",
    ),
    (
        "evidence fell 10% from a negative previous value",
        reverse({"rationale.evidence": [ev(-1.1, -1.0)]}),
        [EXPANDED],
        None,
    ),
    (
        "previous 0: any non-zero value moved",
        reverse({"rationale.evidence": [ev(0.5, 0)]}),
        [EXPANDED],
        None,
    ),
    (
        "previous 0 and value 0: nothing moved",
        reverse({"rationale.evidence": [ev(0, 0)]}),
        [EXPANDED],
        "medium",
    ),
    (
        "previous unknown: no move shown",
        reverse({"rationale.evidence": [ev(5, None)]}),
        [EXPANDED],
        "medium",
    ),
    (
        "one moved item among unmoved ones",
        reverse({"rationale.evidence": [ev(1.25, 1.2), ev(2, 1)]}),
        [EXPANDED],
        None,
    ),
    (
        "no evidence at all",
        reverse({"rationale.evidence": [], "rationale.principles": ["normative_coherence"]}),
        [EXPANDED],
        "medium",
    ),
    ("a court ruling", reverse({"rationale.trigger": "court_ruling"}), [EXPANDED], None),
    ("a treaty obligation", reverse({"rationale.trigger": "treaty_obligation"}), [EXPANDED], None),
    ("a scheduled review", reverse({"rationale.trigger": "scheduled_review"}), [EXPANDED], None),
    (
        "an emergency is no principled reason",
        reverse({"rationale.trigger": "emergency"}),
        [EXPANDED],
        "medium",
    ),
    ("the prior went the same way", REVERSE, [record("JP-H-RES", "restrict", "2021-07-01")], None),
    ("a neutral proposal reverses nothing", reverse({"direction": "neutral"}), [EXPANDED], None),
    (
        "an expansion after a restriction",
        {"rationale.evidence": [ev(1.25, 1.2)]},
        [record("JP-H-RES", "restrict", "2021-07-01")],
        "medium",
        {"related": ("JP-H-RES",)},
    ),
    (
        "a later neutral record is not the prior",
        REVERSE,
        [EXPANDED, record("JP-H-NEU", "neutral", "2023-07-01")],
        "medium",
        {"related": ("JP-H-EXP",)},
    ),
    *(
        (
            f"a later {status} record is not the prior",
            REVERSE,
            [
                record("JP-H-RES", "restrict", "2019-07-01"),
                record("JP-H-EXP", "expand", "2023-07-01", status=status),
            ],
            None,
        )
        for status in ("proposed", "withdrawn", "struck_down")
    ),
    (
        "same date: the greater id is the prior (an expansion)",
        REVERSE,
        [record("JP-H-A", "restrict", "2023-01-01"), record("JP-H-B", "expand", "2023-01-01")],
        "medium",
        {"related": ("JP-H-B",)},
    ),
    (
        "same date: the greater id is the prior (a restriction)",
        REVERSE,
        [record("JP-H-A", "expand", "2023-01-01"), record("JP-H-B", "restrict", "2023-01-01")],
        None,
    ),
    (
        "a record effective on the proposal's date is not history",
        REVERSE,
        [record("JP-H-RES", "restrict", "2021-07-01"), record("JP-H-SAME", "expand", "2024-07-01")],
        None,
    ),
    (
        "only a record on the proposal's date",
        REVERSE,
        [record("JP-H-SAME", "expand", "2024-07-01")],
        None,
    ),
    ("only a later record", REVERSE, [record("JP-H-LATER", "expand", "2025-01-01")], None),
    (
        "another target's history",
        REVERSE,
        [record("JP-H-EXP", "expand", "2021-07-01", target="students")],
        None,
    ),
    (
        "another area's history",
        REVERSE,
        [record("JP-H-EXP", "expand", "2021-07-01", area="integration")],
        None,
    ),
    (
        "another jurisdiction's history",
        REVERSE,
        [record("KR-H-EXP", "expand", "2021-07-01", jurisdiction="KR")],
        None,
    ),
    (
        "proposed exactly election_window (180 days) before the election: high",
        reverse({"context.next_election_on": "2024-06-29"}),
        [EXPANDED],
        "high",
    ),
    (
        "proposed 181 days before the election: medium",
        reverse({"context.next_election_on": "2024-06-30"}),
        [EXPANDED],
        "medium",
    ),
    (
        "no proposal date: effective 180 days before the election: high",
        reverse({"proposed_on": None, "context.next_election_on": "2024-12-28"}),
        [EXPANDED],
        "high",
    ),
)

TURNS = [
    record("JP-H-1", "restrict", "2018-07-01"),
    record("JP-H-2", "expand", "2020-07-01"),
    record("JP-H-3", "restrict", "2022-07-01"),
]

OSCILLATION = cases_of(
    "oscillation",
    (
        "a third turn within the window",
        {},
        TURNS,
        "high",
        {"words": ("3 times", "2,922 days", "JP-H-3", "2022-07-01")},
    ),
    (
        "a record exactly oscillation_window (2,922 days) before counts",
        {},
        [
            record("JP-H-1", "restrict", "2016-07-01"),
            record("JP-H-2", "expand", "2019-01-01"),
            record("JP-H-3", "restrict", "2022-01-01"),
        ],
        "high",
    ),
    (
        "a record 2,923 days before does not",
        {},
        [
            record("JP-H-1", "restrict", "2016-06-30"),
            record("JP-H-2", "expand", "2019-01-01"),
            record("JP-H-3", "restrict", "2022-01-01"),
        ],
        None,
    ),
    (
        "a fourth turn",
        {},
        [record("JP-H-0", "expand", "2017-07-01"), *TURNS],
        "high",
        {"words": ("4 times",)},
    ),
    (
        "three turns, but the proposal keeps the prior's direction",
        {},
        [*TURNS, record("JP-H-4", "expand", "2023-07-01")],
        None,
    ),
    (
        "neutral records are not turns",
        {},
        [
            record("JP-H-1", "expand", "2018-07-01"),
            record("JP-H-N", "neutral", "2019-07-01"),
            record("JP-H-2", "expand", "2020-07-01"),
            record("JP-H-3", "restrict", "2022-07-01"),
        ],
        None,
    ),
    (
        "records not enacted are not turns",
        {},
        [
            record("JP-H-1", "expand", "2018-07-01"),
            record("JP-H-W", "restrict", "2019-07-01", status="withdrawn"),
            record("JP-H-2", "expand", "2020-07-01"),
            record("JP-H-3", "restrict", "2022-07-01"),
        ],
        None,
    ),
    (
        "a record on the proposal's own date is not history",
        {},
        [*TURNS, record("JP-H-SAME", "expand", "2024-07-01")],
        "high",
    ),
    ("a neutral proposal flips nothing", {"direction": "neutral"}, TURNS, None),
    (
        "turns in another scope",
        {},
        [record(r["id"], r["direction"], r["effective_on"], target="students") for r in TURNS],
        None,
    ),
    (
        "with no principled reason it is also an unprincipled reversal",
        {"rationale.evidence": [ev(1.25, 1.2)]},
        TURNS,
        "high",
        {"also": frozenset({"unprincipled_reversal"})},
    ),
)

MID = {"magnitude": "mid_level"}

ELECTORAL = cases_of(
    "electoral_timing",
    (
        "a mid-level change pledged in a campaign",
        {**MID, "context.announced_in_campaign": True},
        [],
        "medium",
        {"words": ("mid_level", "180 days", "2025-07-20")},
    ),
    (
        "a major change with an electoral pledge as trigger",
        {"magnitude": "major", "rationale.trigger": "electoral_pledge"},
        [],
        "medium",
    ),
    ("a minor change pledged in a campaign", {"context.announced_in_campaign": True}, [], None),
    (
        "proposed exactly 180 days before the election",
        {**MID, "context.next_election_on": "2024-06-29"},
        [],
        "medium",
    ),
    (
        "proposed 181 days before the election",
        {**MID, "context.next_election_on": "2024-06-30"},
        [],
        None,
    ),
    (
        "proposed on election day (0 days)",
        {**MID, "context.next_election_on": "2024-01-01"},
        [],
        "medium",
    ),
    (
        "the election was the day before the proposal",
        {**MID, "context.next_election_on": "2023-12-31"},
        [],
        None,
    ),
    (
        "no proposal date: effective exactly 180 days before the election",
        {**MID, "proposed_on": None, "context.next_election_on": "2024-12-28"},
        [],
        "medium",
    ),
    (
        "no proposal date: effective 181 days before the election",
        {**MID, "proposed_on": None, "context.next_election_on": "2024-12-29"},
        [],
        None,
    ),
    (
        "no proposal date: the election is before the date of effect",
        {**MID, "proposed_on": None, "context.next_election_on": "2024-06-29"},
        [],
        None,
    ),
    ("no election date and no pledge", {**MID, "context.next_election_on": None}, [], None),
    (
        "fine tuning 10 days before the election",
        {"magnitude": "fine_tuning", "context.next_election_on": "2024-01-11"},
        [],
        None,
    ),
)

NO_PRINCIPLE = cases_of(
    "no_stated_principle",
    ("no principle invoked", {"rationale.principles": []}, [], "low"),
    ("one principle invoked", {"rationale.principles": ["human_dignity"]}, [], None),
)

# --- legal_integrity --------------------------------------------------------------------------

LEGAL_BASIS = cases_of(
    "legal_basis_required",
    ("no provision cited", {"legal_basis": []}, [], "high", {"words": ("No legal basis",)}),
    ("only a blank provision", {"legal_basis": ["  "]}, [], "high"),
    ("a provision cited", {"legal_basis": ["ICRRA Art. 20"]}, [], None),
)

AFFECTS = {"impact.affects_current_residents": True}

TRANSITION = cases_of(
    "transition_for_residents",
    ("residents affected, no transition stated", AFFECTS, [], "high", {"words": ("180 days",)}),
    (
        "residents affected, 179 days",
        {**AFFECTS, "impact.transition_days": 179},
        [],
        "high",
        {"words": ("179 days", "180 days")},
    ),
    (
        "residents affected, exactly min_transition_days (180)",
        {**AFFECTS, "impact.transition_days": 180},
        [],
        None,
    ),
    ("residents not affected, no transition", {"impact.transition_days": 0}, [], None),
)

RETROACTIVE = cases_of(
    "no_retroactive_restriction",
    (
        "a retroactive restriction",
        {"direction": "restrict", "impact.retroactive": True},
        [],
        "high",
        {"words": ("retroactively",)},
    ),
    ("a retroactive expansion", {"impact.retroactive": True}, [], None),
    ("a restriction for the future", {"direction": "restrict"}, [], None),
)

INSTRUMENT = cases_of(
    "instrument_fits_magnitude",
    *(
        (
            f"a major change by {instrument}",
            {"magnitude": "major", "instrument": instrument},
            [],
            "medium",
            {"words": (instrument,)},
        )
        for instrument in ("guideline", "administrative_practice", "public_notice")
    ),
    ("a major change by act", {"magnitude": "major", "instrument": "act"}, [], None),
    ("a mid-level change by guideline", {**MID, "instrument": "guideline"}, [], None),
)

# --- integration_capacity ---------------------------------------------------------------------


def inflow(expected: int | None, capacity: int | None = 10000, **more: Any) -> dict[str, Any]:
    return {"impact.expected_inflow": expected, "impact.integration_capacity": capacity, **more}


OVER_CAPACITY = cases_of(
    "inflow_within_capacity",
    ("one person over capacity", inflow(10001), [], "high", {"words": ("10,001", "10,000")}),
    (
        "exactly capacity is not over it",
        inflow(10000),
        [],
        None,
        {"also": frozenset({"capacity_margin"})},
    ),
    ("a restriction over capacity", inflow(20000, direction="restrict"), [], None),
    ("capacity unknown", inflow(20000, None), [], None),
    ("inflow unknown", inflow(None), [], None),
)

MARGIN = cases_of(
    "capacity_margin",
    (
        "exactly capacity_margin (90%) of capacity",
        inflow(9000),
        [],
        "low",
        {"words": ("9,000", "10,000", "90%")},
    ),
    ("just under 90%", inflow(8999), [], None),
    ("exactly capacity", inflow(10000), [], "low"),
    ("one over capacity", inflow(10001), [], None, {"also": frozenset({"inflow_within_capacity"})}),
    ("90% of 10,001 is 9,000.9: 9,001 reaches it", inflow(9001, 10001), [], "low"),
    ("90% of 10,001 is 9,000.9: 9,000 does not", inflow(9000, 10001), [], None),
    ("a restriction near capacity", inflow(9500, direction="restrict"), [], None),
)

ASSESSED = cases_of(
    "capacity_assessed",
    (
        "a mid-level expansion, capacity unknown",
        inflow(5000, None, magnitude="mid_level"),
        [],
        "medium",
        {"words": ("mid_level",)},
    ),
    ("a major expansion, capacity unknown", inflow(None, None, magnitude="major"), [], "medium"),
    ("a minor expansion, capacity unknown", inflow(5000, None), [], None),
    (
        "a mid-level restriction, capacity unknown",
        inflow(None, None, magnitude="mid_level", direction="restrict"),
        [],
        None,
    ),
    ("a mid-level expansion, capacity known", inflow(5000, magnitude="mid_level"), [], None),
)

# --- economic_rationality ---------------------------------------------------------------------

NO_EVIDENCE = {"rationale.evidence": []}
OTHER_PRINCIPLE = {"rationale.principles": ["integration_capacity"]}

ECONOMIC_CLAIM = cases_of(
    "evidence_for_economic_claim",
    (
        "economic rationality invoked, no evidence",
        NO_EVIDENCE,
        [],
        "medium",
        {"words": ("economic rationality",)},
    ),
    ("another principle invoked, no evidence", {**NO_EVIDENCE, **OTHER_PRINCIPLE}, [], None),
    ("economic rationality invoked with evidence", {}, [], None),
)

MAJOR = {"magnitude": "major", **NO_EVIDENCE, **OTHER_PRINCIPLE}

MAJOR_EVIDENCE = cases_of(
    "major_change_needs_evidence",
    ("a major change with no evidence", MAJOR, [], "medium", {"words": ("major change",)}),
    ("no trigger stated", {**MAJOR, "rationale.trigger": None}, [], "medium"),
    (
        "a scheduled review needs evidence too",
        {**MAJOR, "rationale.trigger": "scheduled_review"},
        [],
        "medium",
    ),
    ("a court ruling", {**MAJOR, "rationale.trigger": "court_ruling"}, [], None),
    ("a treaty obligation", {**MAJOR, "rationale.trigger": "treaty_obligation"}, [], None),
    ("a major change with evidence", {"magnitude": "major"}, [], None),
    ("a mid-level change with no evidence", {**MAJOR, **MID}, [], None),
    (
        "economic rationality invoked too",
        {"magnitude": "major", **NO_EVIDENCE},
        [],
        "medium",
        {"also": frozenset({"evidence_for_economic_claim"})},
    ),
)

# --- social_stability -------------------------------------------------------------------------

ABRUPT = cases_of(
    "abrupt_major_change",
    (
        "a major change 89 days after its proposal",
        {"magnitude": "major", "proposed_on": "2024-04-03"},
        [],
        "medium",
        {"words": ("89 days", "90 days", "2024-04-03", "2024-07-01")},
    ),
    ("exactly min_notice_days (90)", {"magnitude": "major", "proposed_on": "2024-04-02"}, [], None),
    ("no proposal date", {"magnitude": "major", "proposed_on": None}, [], None),
    ("a minor change 10 days after its proposal", {"proposed_on": "2024-06-21"}, [], None),
)

UNEXPLAINED = cases_of(
    "unexplained_change",
    ("a mid-level change with no statement", {**MID, "rationale.statement": None}, [], "low"),
    ("a blank statement", {**MID, "rationale.statement": "   "}, [], "low"),
    ("a minor change with no statement", {"rationale.statement": None}, [], None),
    ("a mid-level change explained", MID, [], None),
)

# --- human_dignity ----------------------------------------------------------------------------

RESTRICT = {"direction": "restrict"}

DIGNITY = cases_of(
    "dignity_assessed_for_restriction",
    *(
        (
            f"a restriction on {target}, no assessment",
            {**RESTRICT, "target": target},
            [],
            "medium",
            {"words": (target,)},
        )
        for target in (
            "refugees_asylum_seekers",
            "irregular_migrants",
            "family_members",
            "permanent_residents",
        )
    ),
    (
        "a blank assessment is none",
        {**RESTRICT, "target": "family_members", "impact.assessments": {"human_dignity": " "}},
        [],
        "medium",
    ),
    (
        "an assessment given",
        {
            **RESTRICT,
            "target": "family_members",
            "impact.assessments": {"human_dignity": "Family unity is kept by a waiver."},
        },
        [],
        None,
    ),
    ("an expansion for refugees", {"target": "refugees_asylum_seekers"}, [], None),
    ("a restriction on skilled workers", RESTRICT, [], None),
)

CASES: list[Case] = [
    *REVERSAL,
    *OSCILLATION,
    *ELECTORAL,
    *NO_PRINCIPLE,
    *LEGAL_BASIS,
    *TRANSITION,
    *RETROACTIVE,
    *INSTRUMENT,
    *OVER_CAPACITY,
    *MARGIN,
    *ASSESSED,
    *ECONOMIC_CLAIM,
    *MAJOR_EVIDENCE,
    *ABRUPT,
    *UNEXPLAINED,
    *DIGNITY,
]


def verdict_of(rules: set[str]) -> str:
    kinds = {RULE_TABLE[r][1] for r in rules}
    if kinds & {"conflict", "reversal"}:
        return "conflict"
    return "tension" if "tension" in kinds else "consistent"


@pytest.fixture(scope="module")
def pack() -> Iterator[Pack]:
    with load_pack(RULES) as loaded:
        yield loaded


def check(pack: Pack, case: Case, lang: str | None = None) -> Report:
    return pack.check(proposal(case.changes), list(case.history), lang=lang)


# --- the pack ---------------------------------------------------------------------------------


def test_the_manifest_names_the_pack(pack: Pack) -> None:
    manifest = pack.checked.manifest
    assert (manifest.name, manifest.version, manifest.default_lang, manifest.jurisdiction) == (
        "balanced-coexistence",
        "1.0.0",
        "en",
        "JP",
    )


def test_the_pack_holds_the_required_rules_and_extras_that_cannot_make_a_conflict(
    pack: Pack,
) -> None:
    rules = {r.id: (r.principle, r.kind) for r in pack.checked.rules}
    assert {r: rules.get(r) for r in REQUIRED} == REQUIRED
    extras = {r: v for r, v in rules.items() if r not in REQUIRED}
    assert extras == EXTRA
    assert all(kind in ("note", "tension") for _, kind in extras.values())


def test_the_pack_loads_without_warnings(pack: Pack) -> None:
    assert [str(w.message) for w in pack.checked.warnings] == []


@pytest.mark.parametrize("path", sorted(RULES.glob("*.bcm")), ids=lambda p: p.name)
def test_the_rule_files_are_laid_out_as_bcm_fmt_writes_them(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert format_text(text, str(path)) == text, f"run `bcm fmt {path}`"


def test_the_parameters_have_the_model_defaults(pack: Pack) -> None:
    report = pack.check(proposal({}))
    assert report.params == {
        "capacity_margin": "90%",
        "election_window": "180 days",
        "material_change": "10%",
        "min_notice_days": "90 days",
        "min_transition_days": "180 days",
        "oscillation_window": "2922 days",
        "reversal_window": "1461 days",
    }


def test_the_base_proposal_is_consistent(pack: Pack) -> None:
    report = pack.check(proposal({}))
    assert report.findings == []
    assert report.verdict == "consistent"


def test_every_rule_has_a_case_that_fires_and_one_that_does_not() -> None:
    firing = {c.rule for c in CASES if c.fires}
    silent = {c.rule for c in CASES if not c.fires}
    assert firing == set(RULE_TABLE)
    assert silent == set(RULE_TABLE)


# --- the cases --------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.rule}: {c.note}")
def test_rule(pack: Pack, case: Case) -> None:
    report = check(pack, case)
    found = {f.rule: f for f in report.findings}
    expected = ({case.rule} if case.fires else set()) | set(case.also)
    assert set(found) == expected, [f.message for f in report.findings]
    assert report.verdict == verdict_of(expected)
    if not case.fires:
        return
    finding = found[case.rule]
    principle, kind = RULE_TABLE[case.rule]
    assert (finding.kind, finding.principle, finding.severity) == (
        kind,
        principle,
        case.severity,
    )
    for word in case.words:
        assert word in finding.message
    if case.related is not None:
        assert finding.related == list(case.related)
    assert finding.source.startswith(f"rules/{principle}.bcm:")


def test_the_engine_of_record_answers_every_case(pack: Pack) -> None:
    fallbacks = {
        f"{case.rule}: {case.note}": report.engine.reason
        for case in CASES
        if (report := check(pack, case)).engine.name != "durable-rules"
    }
    assert fallbacks == {}


def test_a_parameter_override_moves_the_window(pack: Pack) -> None:
    case = next(c for c in REVERSAL if c.related == ("JP-H-EXP",))
    checked = pack.check(
        proposal(case.changes), list(case.history), params={"reversal_window": "1000 days"}
    )
    assert [f.rule for f in checked.findings] == []
    assert checked.params["reversal_window"] == "1000 days"


def test_oscillation_rests_on_the_turns_it_counts(pack: Pack) -> None:
    report = pack.check(proposal({}), TURNS)
    (finding,) = report.findings
    assert finding.rule == "oscillation"
    assert finding.related[0] == "JP-H-3"  # the prior, then the records of the sequence
    assert sorted(finding.related) == ["JP-H-1", "JP-H-2", "JP-H-3"]


# --- messages in every language ---------------------------------------------------------------

FIRST_FIRING = {c.rule: c for c in reversed(CASES) if c.fires}
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@pytest.mark.parametrize("lang", ["en", "ja"])
@pytest.mark.parametrize("rule", sorted(RULE_TABLE))
def test_messages_render_without_leftover_braces(pack: Pack, rule: str, lang: str) -> None:
    report = check(pack, FIRST_FIRING[rule], lang)
    finding = next(f for f in report.findings if f.rule == rule)
    for text in (finding.message, finding.remedy):
        assert text.strip()
        assert "{" not in text and "}" not in text, text
        assert bool(JAPANESE.search(text)) == (lang == "ja"), text


def test_japanese_messages_write_dates_and_durations_the_japanese_way(pack: Pack) -> None:
    case = next(c for c in REVERSAL if c.related == ("JP-H-EXP",))
    (finding,) = check(pack, case, "ja").findings
    assert "2021年7月1日" in finding.message
    assert "1,096日" in finding.message
    assert "原則なき反転" in finding.message


# --- the examples -----------------------------------------------------------------------------


def _demo(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / "proposals" / name).read_text("utf-8"))
    return data


@pytest.mark.parametrize(
    "name", ["demo-conflict.json", "demo-tension.json", "demo-consistent.json"]
)
def test_the_demo_proposals_get_the_verdict_they_were_written_to_show(
    pack: Pack, name: str
) -> None:
    history = load_history([str(EXAMPLES / "history.jsonl")])
    demo = _demo(name)
    report = pack.check(demo, history)
    assert report.verdict == demo["extensions"]["expected_verdict"]


def test_the_demo_conflict_is_an_electoral_reversal_of_the_2024_estimate(pack: Pack) -> None:
    history = load_history([str(EXAMPLES / "history.jsonl")])
    report = pack.check(_demo("demo-conflict.json"), history, lang="ja")
    found = {f.rule: f for f in report.findings}
    reversal = found["unprincipled_reversal"]
    assert (reversal.severity, reversal.related) == ("high", ["JP-2024-SSW-CAP"])
    assert "2024年4月1日" in reversal.message and "730日" in reversal.message
    assert set(found) == {
        "unprincipled_reversal",
        "legal_basis_required",
        "electoral_timing",
        "major_change_needs_evidence",
        "no_stated_principle",
    }
