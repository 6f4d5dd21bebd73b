"""The compiler: which conditions run in the engine and how, which are lowered to Python, how
queries become joins, and the safety checks on plans.

Most cases are a condition and what the plan holds for it; the differential test
(test_differential.py) is what says the plan is right.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from checker.compiler import (
    SENTINEL,
    Plan,
    RulesetPlan,
    check_plan_safety,
    compile_pack,
    engine_text,
    fnv1a32,
)
from checker.reference import unparse

from . import pack_from_text

HEAD = """principle legal_integrity {
  title en "t"
  param window = 365 days
  param margin = 90%
  param cap = 20000 persons
"""


def rule(when: str, name: str = "r", lets: str = "", severity: str = "medium") -> str:
    return f"""
  rule {name} {{
    kind conflict
    {lets}
    when {when}
    severity {severity}
    message en "m"
    remedy en "r"
  }}
"""


def compiled(tmp_path: Path, *rules: str, defines: str = "") -> Plan:
    text = HEAD + defines + "".join(rules) + "}\n"
    plan = compile_pack(pack_from_text(text, tmp_path / "pack"))
    assert check_plan_safety(plan) == []
    return plan


def condition_of(plan: Plan, name: str = "r") -> Any:
    for ruleset in plan.rule_rulesets:
        if name in ruleset.rules:
            return ruleset.rules[name]["all"][0]["m"]
    raise KeyError(name)


def lowered(plan: Plan) -> list[str]:
    return [unparse(d.expr) for d in plan.derived]


# --- single-fact conditions -----------------------------------------------------------------

NATIVE = [
    # (condition, its engine test, why)
    ('proposal.direction == "expand"', {"r.direction": "expand"}, "enum equality"),
    (
        'proposal.direction != "neutral"',
        {"$neq": {"r.direction": "neutral"}},
        "`!=` on a field never null",
    ),
    (
        'proposal.rationale.trigger != "evidence"',
        {"$or": [{"r.rationale.trigger": None}, {"$neq": {"r.rationale.trigger": "evidence"}}]},
        "null != a value holds in the spec; the engine's `$neq` on null fails",
    ),
    (
        "proposal.impact.expected_inflow > proposal.impact.integration_capacity",
        {"$gt": {"r.impact.expected_inflow": {"$m": "r.impact.integration_capacity"}}},
        "an ordering on null fails in both",
    ),
    (
        "proposal.impact.expected_inflow + 10 > proposal.impact.integration_capacity",
        {
            "$and": [
                {"$neq": {"r.impact.expected_inflow": None}},
                {"$neq": {"r.impact.integration_capacity": None}},
                {
                    "$gt": {
                        "r.impact.expected_inflow": {
                            "$sub": {"$l": {"$m": "r.impact.integration_capacity"}, "$r": 10}
                        }
                    }
                },
            ]
        },
        "arithmetic on null is no null in the engine: guarded",
    ),
    (
        "days(proposal.proposed_on, proposal.effective_on) < window",
        {
            "$and": [
                {"$neq": {"r.proposed_on#day": None}},
                {
                    "$lt": {
                        "r.effective_on#day": {
                            "$add": {"$l": {"$m": "_p.window"}, "$r": {"$m": "r.proposed_on#day"}}
                        }
                    }
                },
            ]
        },
        "days() of dates is a difference of day numbers",
    ),
    (
        "not (proposal.impact.expected_inflow > 5)",
        {
            "$or": [
                {"r.impact.expected_inflow": None},
                {"$lte": {"r.impact.expected_inflow": 5}},
            ]
        },
        "not (null > 5) holds",
    ),
    ("proposal.impact.retroactive", {"r.impact.retroactive": True}, "a bool field"),
    ("not proposal.impact.retroactive", {"r.impact.retroactive": False}, "a bool field, negated"),
    (
        'proposal.magnitude in ["minor", "major"]',
        {"$or": [{"r.magnitude": "minor"}, {"r.magnitude": "major"}]},
        "membership in literals",
    ),
    (
        'proposal.rationale.trigger not in ["evidence", "other"]',
        {
            "$and": [
                {"$neq": {"r.rationale.trigger": "evidence"}},
                {"$neq": {"r.rationale.trigger": "other"}},
            ]
        },
        "`not in` is false for null, like `$neq` on null",
    ),
    (
        'not (proposal.rationale.trigger in ["evidence", "other"])',
        {
            "$or": [
                {"r.rationale.trigger": None},
                {
                    "$and": [
                        {"$neq": {"r.rationale.trigger": "evidence"}},
                        {"$neq": {"r.rationale.trigger": "other"}},
                    ]
                },
            ]
        },
        "`not (x in L)` is true for null",
    ),
    ("proposal.proposed_on is null", {"r.proposed_on#day": None}, "null test"),
    (
        "proposal.impact.expected_inflow != null",
        {"$neq": {"r.impact.expected_inflow": None}},
        "`!= null` is `is not null`",
    ),
    ('proposal.id == "JP-1"', {"r.id": "JP-1"}, "the document's id is not durable's `id`"),
    (
        "0 < proposal.impact.expected_inflow + 18000",
        {
            "$and": [
                {"$neq": {"r.impact.expected_inflow": None}},
                {"$gt": {"r.impact.expected_inflow": -18000}},
            ]
        },
        "constants are folded: durable never evaluates an expression of constants alone",
    ),
    (
        "proposal.impact.expected_inflow >= cap",
        {"$gte": {"r.impact.expected_inflow": {"$m": "_p.cap"}}},
        "a whole parameter travels in the fact",
    ),
]


@pytest.mark.parametrize(("when", "test", "why"), NATIVE, ids=[c[2] for c in NATIVE])
def test_native_conditions(tmp_path: Path, when: str, test: Any, why: str) -> None:
    plan = compiled(tmp_path, rule(when))
    assert condition_of(plan) == test
    assert plan.derived == ()


LOWERED = [
    ("proposal.rationale.evidence is empty", "`is empty` of a list"),
    ('"human_dignity" in proposal.rationale.principles', "`in` a list field"),
    ("proposal.impact.expected_inflow > 2.5", "a decimal"),
    ("proposal.impact.expected_inflow >= margin * proposal.impact.integration_capacity", "%"),
    ("proposal.effective_on + 30 days > 2020-01-01", "a date moved past the calendar is null"),
    ("len(proposal.legal_basis) > 1", "a function other than days()"),
    ("any(e in proposal.rationale.evidence: e.value > 1)", "a quantifier"),
    ("proposal.impact.expected_inflow + 1 == proposal.impact.integration_capacity", "null + 1"),
    (
        "proposal.rationale.statement != proposal.impact.assessments.human_dignity",
        "`!=` of two nullable fields",
    ),
    ("proposal.impact.expected_inflow / 2 > 3", "division"),
]


@pytest.mark.parametrize(("when", "why"), LOWERED, ids=[c[1] for c in LOWERED])
def test_lowered_conditions(tmp_path: Path, when: str, why: str) -> None:
    plan = compiled(tmp_path, rule(when))
    assert condition_of(plan) == {"_d0": 1}
    assert lowered(plan) == [when]
    assert plan.derived[0].phase == "proposal"


def test_lowering_keeps_what_is_native(tmp_path: Path) -> None:
    when = 'proposal.direction == "expand" and proposal.legal_basis is empty'
    plan = compiled(tmp_path, rule(when))
    assert condition_of(plan) == {"$and": [{"r.direction": "expand"}, {"_d0": 1}]}
    assert lowered(plan) == ["proposal.legal_basis is empty"]


def test_definitions_are_inlined(tmp_path: Path) -> None:
    defines = """
  define pledged = proposal.context.announced_in_campaign
                   or proposal.rationale.trigger == "electoral_pledge"
  define assessed = proposal.impact.assessments.human_dignity is not empty
"""
    plan = compiled(
        tmp_path,
        rule("pledged and not assessed", "a"),
        rule("assessed", "b"),
        defines=defines,
    )
    assert condition_of(plan, "a") == {
        "$and": [
            {
                "$or": [
                    {"r.context.announced_in_campaign": True},
                    {"r.rationale.trigger": "electoral_pledge"},
                ]
            },
            {"_d0": 1},
        ]
    }
    assert condition_of(plan, "b") == {"_d1": 1}
    assert lowered(plan) == [
        "not assessed",
        "proposal.impact.assessments.human_dignity is not empty",
    ]


def test_severity_conditions_are_rules_of_their_own(tmp_path: Path) -> None:
    severity = (
        'high if proposal.magnitude == "major" else medium if proposal.impact.retroactive else low'
    )
    plan = compiled(tmp_path, rule('proposal.direction == "restrict"', severity=severity))
    rules = plan.rule_rulesets[0].rules
    assert set(rules) == {"_probe", "r", "r#high", "r#medium"}
    assert rules["r#high"]["all"][0]["m"] == {
        "$and": [{"r.direction": "restrict"}, {"r.magnitude": "major"}]
    }
    assert plan.severity_levels == {"r": ("high", "medium")}


# --- queries --------------------------------------------------------------------------------

REVERSAL = """let prior = latest h in history
                where h.scope == proposal.scope and h.status == "enacted"
                  and days(h.effective_on, proposal.effective_on) <= window"""


def join_of(plan: Plan, n: int = 0) -> RulesetPlan:
    return plan.join_rulesets[n]


def test_a_query_becomes_a_join_on_its_partition(tmp_path: Path) -> None:
    plan = compiled(tmp_path, rule("prior.direction != proposal.direction", lets=REVERSAL))
    ruleset = join_of(plan)
    assert ruleset.partition == ("jurisdiction", "area", "target")
    day = "r.effective_on#day"
    scope = [{f"r.{f}": {"p": f"r.{f}"}} for f in ("jurisdiction", "area", "target")]
    bound = {"$sub": {"$l": {"p": day}, "$r": {"p": "_p.window"}}}
    # ordered: the record's tests do not read the proposal, so the engine finds the last
    # record before the proposal (`_n`: the next one's day is not before it) and the first
    # in the window (`_v`: the previous one's is before it), in one date bucket each; the
    # window is the first rule's alone (no first record in it: nothing is in it)
    assert ruleset.rules["join0"]["all"][1]["h"]["$and"] == [
        {"_t": "u0"},
        {"r.status": "enacted"},
        *scope,
        {"_b": {"p": "_bu0"}},
        {"$lt": {day: {"p": day}}},
        {"$gte": {"_n": {"p": day}}},
        dict(SENTINEL),
    ]
    assert ruleset.rules["join0#first"]["all"][1]["h"]["$and"] == [
        {"_t": "l0"},
        {"r.status": "enacted"},
        *scope,
        {"_b": {"p": "_bl0"}},
        {"$gte": {day: bound}},
        {"$lt": {"_v": bound}},
        {"$lt": {day: {"p": day}}},
        dict(SENTINEL),
    ]
    assert ruleset.rules["join0"]["all"][0] == {"p": {"_t": "p"}}
    assert ruleset.rules["join0"]["cap"] == 65535
    assert condition_of(plan) == {
        "$and": [{"_q0": 1}, {"$neq": {"_q0.direction": {"$m": "r.direction"}}}]
    }


def test_a_query_comparing_the_record_with_the_proposal_joins_every_candidate(
    tmp_path: Path,
) -> None:
    lets = """let prior = latest h in history
                where h.scope == proposal.scope and h.direction != proposal.direction"""
    plan = compiled(tmp_path, rule('prior.magnitude == "major"', lets=lets))
    assert not plan.joins[0].ordered
    day = "r.effective_on#day"
    assert join_of(plan).rules["join0"]["all"][1]["h"]["$and"] == [
        {"_t": "h"},
        {"$lt": {day: {"p": day}}},
        *[{f"r.{f}": {"p": f"r.{f}"}} for f in ("jurisdiction", "area", "target")],
        {"$neq": {"r.direction": {"p": "r.direction"}}},
        dict(SENTINEL),
    ]


def test_equal_queries_share_one_join(tmp_path: Path) -> None:
    plan = compiled(
        tmp_path,
        rule("prior.direction != proposal.direction", "a", lets=REVERSAL),
        rule('prior.magnitude == "major"', "b", lets=REVERSAL),
        rule("n > 2", "c", lets=REVERSAL.replace("let prior = latest", "let n = count")),
    )
    assert len(plan.joins) == 1
    assert [(s.key, s.kind) for s in plan.slots] == [("_q0", "latest"), ("_q1", "count")]


def test_what_the_engine_cannot_join_is_left_to_python(tmp_path: Path) -> None:
    lets = """let prior = latest h in history
                where (h.direction == proposal.direction or h.magnitude == proposal.magnitude)
                  and (h.status == proposal.status or h.area == proposal.area)
                  and h.impact.expected_inflow < proposal.impact.expected_inflow
                  and h.legal_basis is empty
                  and proposal.legal_basis is not empty"""
    plan = compiled(tmp_path, rule('prior.direction == "expand"', lets=lets))
    join = plan.joins[0]
    terms = join_of(plan).rules["join0"]["all"][1]["h"]["$and"]
    # the one or-group goes last before the sentinel, the second cannot follow it
    assert terms[-2] == {
        "$or": [
            {"r.direction": {"p": "r.direction"}},
            {"r.magnitude": {"p": "r.magnitude"}},
        ]
    }
    assert terms[-1] == dict(SENTINEL)
    assert [unparse(r) for r in join.residue] == [
        "h.status == proposal.status or h.area == proposal.area",
        # nullable values cannot be joined: a null in a join term fails the assertion
        "h.impact.expected_inflow < proposal.impact.expected_inflow",
    ]
    phases = {unparse(d.expr): d.phase for d in plan.derived}
    assert phases == {
        "h.legal_basis is empty": "history",
        "proposal.legal_basis is not empty": "proposal",
    }
    assert join_of(plan).rules["join0"]["all"][0] == {"p": {"$and": [{"_t": "p"}, {"_d1": 1}]}}


def test_pins_choose_the_partition(tmp_path: Path) -> None:
    lets = (
        'let first = earliest h in history where h.area == "exit"'
        " and h.jurisdiction == proposal.jurisdiction"
    )
    plan = compiled(tmp_path, rule('first.direction == "expand"', lets=lets))
    assert join_of(plan).partition == ("jurisdiction", "area")
    assert [f for f, _ in join_of(plan).pins] == ["area", "jurisdiction"]


def test_lets_read_by_a_lowered_condition_are_computed_after_the_queries(tmp_path: Path) -> None:
    lets = REVERSAL.replace("let prior = latest", "let steps = sequence")
    plan = compiled(tmp_path, rule("direction_changes(steps, proposal) >= 3", lets=lets))
    assert [(d.phase, d.rule) for d in plan.derived] == [("rule", "r")]


# --- splitting ------------------------------------------------------------------------------


def test_rules_are_split_below_the_engine_limits(tmp_path: Path) -> None:
    rules = [rule(f"proposal.impact.expected_inflow > {n}", f"r{n}") for n in range(70)]
    plan = compiled(tmp_path, *rules)
    sizes = [len(rs.rules) for rs in plan.rule_rulesets]
    assert len(plan.rule_rulesets) == 3
    assert all(size <= 32 for size in sizes)
    assert sum(sizes) == 70 + 3  # each ruleset has its probe rule


def test_a_rule_too_wide_for_any_ruleset_is_lowered(tmp_path: Path) -> None:
    targets = ", ".join(f'"t{n}"' for n in range(600))
    plan = compiled(tmp_path, rule(f"proposal.target in [{targets}]"))
    assert condition_of(plan) == {"_d0": 1}


# --- safety checks ----------------------------------------------------------------------------


def _mutated(plan: Plan, change: Any) -> Plan:
    ruleset = copy.deepcopy(dict(plan.join_rulesets[0].rules))
    change(ruleset)
    join = dataclasses.replace(plan.join_rulesets[0], rules=ruleset)
    return dataclasses.replace(plan, join_rulesets=(join, *plan.join_rulesets[1:]))


def _h(rules: dict[str, Any]) -> list[Any]:
    terms: list[Any] = rules["join0"]["all"][1]["h"]["$and"]
    return terms


UNSAFE = [
    (lambda r: _h(r).pop(), "does not end with the sentinel"),
    (lambda r: _h(r).insert(1, {"$gt": {"sid": "1"}}), "tests `sid`"),
    (lambda r: _h(r).insert(1, {"id": {"p": "id"}}), "tests `id`"),
    (lambda r: _h(r).insert(1, {"$or": [{"a": {"p": "a"}}, {"b": {"p": "b"}}]}), "not last"),
    (lambda r: _h(r).insert(1, {"$lt": {"a": {"$div": {"$l": 1, "$r": 0}}}}), "uses $div"),
    (lambda r: r.pop("_probe"), "no probe rule"),
    (lambda r: r.update({f"x{n}": {"all": [{"m": {"v": n}}]} for n in range(40)}), "rules"),
    (lambda r: r.update({"x": {"all": [{"m": {"$nex": {"v": 1}}}]}}), "lone test"),
]


@pytest.mark.parametrize(("change", "problem"), UNSAFE, ids=[u[1] for u in UNSAFE])
def test_unsafe_plans_are_named(tmp_path: Path, change: Any, problem: str) -> None:
    plan = compiled(tmp_path, rule("prior.direction != proposal.direction", lets=REVERSAL))
    problems = check_plan_safety(_mutated(plan, change))
    assert any(problem in p for p in problems), problems


def test_property_names_must_not_collide(tmp_path: Path) -> None:
    # two names of one 32-bit FNV-1a hash (found by search) would be one property to durable
    assert fnv1a32("h-229599") == fnv1a32("h-432382")
    plan = compiled(tmp_path, rule("prior.direction != proposal.direction", lets=REVERSAL))
    problems = check_plan_safety(
        _mutated(plan, lambda r: _h(r).insert(1, {"h-229599": 1, "h-432382": 2}))
    )
    assert any("share the hash" in p for p in problems), problems


def test_long_texts_enter_the_engine_as_digests() -> None:
    short = "students"
    long = "students" + "x" * 70000
    assert engine_text(short) == short
    assert engine_text(long) != engine_text(long + "y")
    assert engine_text(long) == engine_text("students" + "x" * 70000)
    assert len(engine_text(long)) < 100
