"""The reference evaluator: parameters, history queries, rules firing, explanations."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import semantics
from checker.lang import ast
from checker.lang.checked import CheckedPack
from checker.lang.parse import parse
from checker.reference import Env, Evaluator, HistoryIndex, unparse

from . import pack_from_text, policy

D = Decimal

RULES = """
# Reversals and oscillation, reduced to what the tests need.
principle normative_coherence {
  title en "Normative coherence"
  title ja "規範的一貫性"

  param reversal_window = 1461 days
  param material_change = 10%
  param busy_count = 2

  define pledged = proposal.context.announced_in_campaign
                   or proposal.rationale.trigger == "electoral_pledge"
  define evidence_moved = any(e in proposal.rationale.evidence:
                              moved(e.value, e.previous, material_change))

  rule unprincipled_reversal {
    kind reversal
    let prior = latest h in history
                where h.scope == proposal.scope and h.status == "enacted"
                  and h.direction != "neutral"
    let gap = days(prior.effective_on, proposal.effective_on)
    when prior.direction != proposal.direction and proposal.direction != "neutral"
     and (gap <= reversal_window or pledged)
     and not evidence_moved
    severity high if pledged else medium
    message en "Reverses {prior.id} of {prior.effective_on}, {gap} later."
    message ja "{prior.id}（{prior.effective_on}施行）を{gap}後に覆しています。"
    remedy en "Cite an indicator that moved by {material_change} or more since {prior.id}."
  }

  rule first_in_jurisdiction {
    kind note
    let first = earliest h in history where h.jurisdiction == proposal.jurisdiction
    when first.direction == proposal.direction
    severity low
    message en "Goes the way of {first.id}."
    remedy en "Nothing to do."
  }

  rule busy_scope {
    kind tension
    let n = count h in history where h.scope == proposal.scope and h.status == "enacted"
    let steps = sequence h in history where h.scope == proposal.scope
    when n >= busy_count
    severity low if n < 3 else medium
    message en "{n} earlier changes of {proposal.scope}."
    remedy en "Look at the changes of {proposal.scope} since {proposal.proposed_on}."
  }

  rule odd_extension {
    kind note
    when proposal.extensions.level > 3 or proposal.extensions.level == 3
    severity low
    message en "Level {proposal.extensions.level}."
    remedy en "None."
  }
}
"""

MANIFEST = """name = "test-pack"
version = "0.0.1"
default_lang = "en"

[overrides.JP]
reversal_window = "1000 days"
"""


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> CheckedPack:
    return pack_from_text(RULES, tmp_path_factory.mktemp("pack") / "rules", MANIFEST)


@pytest.fixture(scope="module")
def evaluator(pack: CheckedPack) -> Evaluator:
    return Evaluator(pack)


def proposal(effective_on: str = "2021-04-01", direction: str = "restrict", **fields: Any) -> Any:
    return policy("P", effective_on, direction, status="proposed", **fields)


HISTORY = [
    policy("JP-2019-B", "2019-04-01", "expand"),
    policy("JP-2019-A", "2019-04-01", "expand"),
    policy("JP-2017", "2017-04-01", "restrict"),
    policy("JP-2020-NEUTRAL", "2020-04-01", "neutral"),
    policy("JP-2020-WITHDRAWN", "2020-06-01", "restrict", status="withdrawn"),
    policy("JP-2021-SAME-DAY", "2021-04-01", "restrict"),
    policy("JP-2018-OTHER", "2018-04-01", "expand", target="students"),
    policy("KR-2010", "2010-01-01", "restrict", jurisdiction="KR"),
]


def bound(evaluator: Evaluator, rule_id: str, doc: Any, history: Any) -> Env | None:
    params = evaluator.params()
    return evaluator.bind_lets(
        evaluator.pack.rule(rule_id).rule, Env(doc, params), HistoryIndex(history)
    )


# --- parameters -----------------------------------------------------------------------------


def test_parameters_in_force(evaluator: Evaluator) -> None:
    defaults = evaluator.params()
    assert defaults == {
        "reversal_window": D(1461),
        "material_change": D("0.1"),
        "busy_count": D(2),
    }
    assert evaluator.params(None, "JP")["reversal_window"] == D(1000)
    assert evaluator.params(None, "KR")["reversal_window"] == D(1461)
    per_check = evaluator.params(
        {"material_change": ast.Number(D(15), "%"), "reversal_window": D(10)}, "JP"
    )
    assert per_check["material_change"] == D("0.15")
    assert per_check["reversal_window"] == D(10)
    with pytest.raises(KeyError, match="reversal_windw"):
        evaluator.params({"reversal_windw": D(1)})


# --- history queries ------------------------------------------------------------------------


def test_latest_sees_only_records_strictly_before_and_breaks_ties_to_the_greater_id(
    evaluator: Evaluator,
) -> None:
    env = bound(evaluator, "unprincipled_reversal", proposal(), HISTORY)
    assert env is not None
    # JP-2021-SAME-DAY is effective on the proposal's date: not before it.
    # JP-2019-A and JP-2019-B tie on the date: the greater id wins.
    assert env.lets["prior"]["id"] == "JP-2019-B"
    assert env.lets["gap"] == 731


def test_a_proposal_one_day_later_sees_the_same_day_record(evaluator: Evaluator) -> None:
    env = bound(evaluator, "unprincipled_reversal", proposal("2021-04-02"), HISTORY)
    assert env is not None
    assert env.lets["prior"]["id"] == "JP-2021-SAME-DAY"


def test_earliest_breaks_ties_to_the_greater_id(evaluator: Evaluator) -> None:
    history = [*HISTORY, policy("JP-2017-Z", "2017-04-01", "expand", area="exit")]
    env = bound(evaluator, "first_in_jurisdiction", proposal(), history)
    assert env is not None
    assert env.lets["first"]["id"] == "JP-2017-Z"


def test_count_and_sequence(evaluator: Evaluator) -> None:
    env = bound(evaluator, "busy_scope", proposal(), HISTORY)
    assert env is not None
    assert env.lets["n"] == 4 and type(env.lets["n"]) is int
    assert [r["id"] for r in env.lets["steps"]] == [
        "JP-2017",
        "JP-2019-A",
        "JP-2019-B",
        "JP-2020-NEUTRAL",
        "JP-2020-WITHDRAWN",
    ]


def test_no_record_found_means_the_rule_cannot_fire(evaluator: Evaluator) -> None:
    assert bound(evaluator, "unprincipled_reversal", proposal(), []) is None
    assert bound(evaluator, "first_in_jurisdiction", proposal(jurisdiction="DE"), HISTORY) is None
    env = bound(evaluator, "busy_scope", proposal(), [])
    assert env is not None and env.lets["n"] == 0 and env.lets["steps"] == []


def test_history_index_appends_and_repartitions(evaluator: Evaluator) -> None:
    index = HistoryIndex(HISTORY[:3])
    assert len(index) == 3
    params = evaluator.params()
    rule = evaluator.pack.rule("unprincipled_reversal").rule
    env = evaluator.bind_lets(rule, Env(proposal("2030-01-01"), params), index)
    assert env is not None and env.lets["prior"]["id"] == "JP-2019-B"
    index.add([policy("JP-2025", "2025-01-01", "restrict")])
    assert len(index) == 4
    env = evaluator.bind_lets(rule, Env(proposal("2030-01-01"), params), index)
    assert env is not None and env.lets["prior"]["id"] == "JP-2025"
    assert [r["id"] for r in index] == ["JP-2017", "JP-2019-A", "JP-2019-B", "JP-2025"]


def test_history_records_need_an_id_and_a_date() -> None:
    with pytest.raises(ValueError, match="effective_on"):
        HistoryIndex([{"id": "x", "effective_on": "2019-04-01"}])


# The partitioned scan must agree with a brute-force filter over the whole history.

QUERIES = """
principle normative_coherence {
  title en "Normative coherence"
  rule q {
    kind note
    let a = latest h in history where h.scope == proposal.scope and h.direction != "neutral"
    let b = earliest h in history where proposal.area == h.area and h.target == "trainees"
    let c = count h in history where h.jurisdiction == proposal.jurisdiction
                                 and h.jurisdiction == "JP"
    let d = sequence h in history where h.area == "exit" or h.scope == proposal.scope
    let e = latest h in history where h.jurisdiction == proposal.target
    when true
    severity low
    message en "x"
    remedy en "x"
  }
}
"""

record_strategy = st.builds(
    lambda n, days, direction, j, area, target: policy(
        f"R{n}",
        (dt.date(2018, 1, 1) + dt.timedelta(days=days)).isoformat(),
        direction,
        jurisdiction=j,
        area=area,
        target=target,
    ),
    st.integers(0, 20),
    st.integers(0, 6),
    st.sampled_from(["expand", "restrict", "neutral"]),
    st.sampled_from(["JP", "KR"]),
    st.sampled_from(["entry_stay", "exit"]),
    st.sampled_from(["trainees", "students"]),
)


@pytest.fixture(scope="module")
def query_evaluator(tmp_path_factory: pytest.TempPathFactory) -> Evaluator:
    return Evaluator(pack_from_text(QUERIES, tmp_path_factory.mktemp("queries") / "rules"))


@settings(max_examples=60, deadline=None)
@given(history=st.lists(record_strategy, max_size=12), offset=st.integers(0, 8))
def test_partitioned_queries_agree_with_a_full_scan(
    query_evaluator: Evaluator, history: list[dict[str, Any]], offset: int
) -> None:
    doc = proposal((dt.date(2018, 1, 1) + dt.timedelta(days=offset)).isoformat())
    index = HistoryIndex(history)
    for let in query_evaluator.pack.rule("q").rule.lets:
        query = let.value
        assert isinstance(query, ast.Query)
        env = Env(doc, {})
        got = query_evaluator.run_query(query, env, index)
        matches = [
            r
            for r in history
            if r["effective_on"] < doc["effective_on"]
            and semantics.truthy(query_evaluator.evaluate(query.condition, env.bind(query.var, r)))
        ]
        expected = semantics.query_result(query.kind, matches)
        if query.kind in ("latest", "earliest"):
            assert (got or {}).get("id") == (expected or {}).get("id"), let.name
        elif query.kind == "sequence":
            assert [r["id"] for r in got] == [r["id"] for r in expected], let.name
        else:
            assert got == expected, let.name


# --- rules ----------------------------------------------------------------------------------


def fired(evaluator: Evaluator, doc: Any, history: Any = HISTORY, **params: Any) -> dict[str, str]:
    values = evaluator.params({k: D(v) for k, v in params.items()})
    return {f.rule.id: f.severity for f in evaluator.check(doc, HistoryIndex(history), values)}


def test_a_reversal_within_the_window_fires(evaluator: Evaluator) -> None:
    assert fired(evaluator, proposal()) == {
        "unprincipled_reversal": "medium",
        "first_in_jurisdiction": "low",
        "busy_scope": "medium",
    }


def test_rules_fire_in_pack_order(evaluator: Evaluator) -> None:
    doc = proposal(direction="expand")
    history = [
        *HISTORY,
        policy("JP-2021-R", "2021-01-01", "restrict"),
        policy("JP-2000", "2000-01-01", "expand", area="exit"),
    ]
    values = evaluator.params()
    order = [f.rule.id for f in evaluator.check(doc, HistoryIndex(history), values)]
    assert order == ["unprincipled_reversal", "first_in_jurisdiction", "busy_scope"]


@pytest.mark.parametrize(
    ("effective_on", "fires"),
    [
        pytest.param("2023-04-01", True, id="exactly 1461 days later: the window includes it"),
        pytest.param("2023-04-02", False, id="1462 days later: outside the window"),
    ],
)
def test_windows_are_inclusive(evaluator: Evaluator, effective_on: str, fires: bool) -> None:
    history = [policy("JP-2019", "2019-04-01", "expand")]
    assert ("unprincipled_reversal" in fired(evaluator, proposal(effective_on), history)) is fires


def test_a_pledge_reaches_beyond_the_window_and_raises_the_severity(evaluator: Evaluator) -> None:
    history = [policy("JP-2010", "2010-04-01", "expand")]
    doc = proposal(context={"announced_in_campaign": True})
    assert fired(evaluator, doc, history)["unprincipled_reversal"] == "high"
    doc = proposal(rationale={"trigger": "electoral_pledge"})
    assert fired(evaluator, doc, history)["unprincipled_reversal"] == "high"
    assert "unprincipled_reversal" not in fired(evaluator, proposal(), history)


@pytest.mark.parametrize(
    ("value", "previous", "fires"),
    [
        pytest.param("1.496", "1.36", False, id="moved by exactly 10%: principled"),
        pytest.param("1.495", "1.36", True, id="moved by just under 10%: unprincipled"),
        pytest.param("5", "0", False, id="from 0, any change moved"),
        pytest.param("1.63", None, True, id="no previous value: nothing moved"),
    ],
)
def test_evidence_that_moved_makes_a_reversal_principled(
    evaluator: Evaluator, value: str, previous: str | None, fires: bool
) -> None:
    item = {"indicator": "job_openings_to_applicants_ratio", "value": D(value), "previous": None}
    if previous is not None:
        item["previous"] = D(previous)
    doc = proposal(rationale={"evidence": [item]})
    assert ("unprincipled_reversal" in fired(evaluator, doc)) is fires


def test_a_per_check_parameter_changes_the_outcome(evaluator: Evaluator) -> None:
    item = {"indicator": "ratio", "value": D("1.45"), "previous": D("1.36")}
    doc = proposal(rationale={"evidence": [item]})
    assert "unprincipled_reversal" in fired(evaluator, doc)
    values = evaluator.params({"material_change": ast.Number(D(5), "%")})
    assert not any(
        f.rule.id == "unprincipled_reversal"
        for f in evaluator.check(doc, HistoryIndex(HISTORY), values)
    )


@pytest.mark.parametrize(
    ("level", "fires"),
    [
        pytest.param(D(4), True, id="a number above"),
        pytest.param(3, True, id="a number equal"),
        pytest.param("4", False, id="a text is not a number"),
        pytest.param(True, False, id="a bool is not a number"),
        pytest.param([4], False, id="a list"),
        pytest.param({"a": 4}, False, id="a map"),
        pytest.param(None, False, id="null"),
        pytest.param("2019-04-01", False, id="a date as text"),
    ],
)
def test_extension_data_of_any_shape_never_raises(
    evaluator: Evaluator, level: Any, fires: bool
) -> None:
    doc = proposal(extensions={"level": level})
    assert ("odd_extension" in fired(evaluator, doc, [])) is fires


def test_a_policy_change_document_is_accepted_as_well(evaluator: Evaluator) -> None:
    from checker.documents import PolicyChange

    doc = PolicyChange.model_validate(
        {
            "id": "P",
            "title": "t",
            "jurisdiction": "JP",
            "area": "entry_stay",
            "target": "trainees",
            "direction": "restrict",
            "magnitude": "minor",
            "instrument": "act",
            "legal_basis": [],
            "effective_on": "2021-04-01",
        }
    )
    values = evaluator.params()
    assert [f.rule.id for f in evaluator.check(doc, HISTORY, values)] == [
        "unprincipled_reversal",
        "first_in_jurisdiction",
        "busy_scope",
    ]


# --- explain --------------------------------------------------------------------------------


def test_explain_says_which_conditions_held(evaluator: Evaluator) -> None:
    item = {"indicator": "ratio", "value": D("1.40"), "previous": D("1.36")}
    doc = proposal(rationale={"evidence": [item]})
    explanation = evaluator.explain(doc, HISTORY, evaluator.params(), "unprincipled_reversal")
    assert explanation.fired and explanation.severity == "medium"
    text = explanation.render("en")
    lines = text.splitlines()
    assert lines[0] == "rule unprincipled_reversal (normative_coherence, reversal)"
    assert lines[1].startswith("  --> ") and lines[1].endswith("rules/rules.bcm:16:3")
    assert lines[2] == "proposal P: fires, severity medium"
    assert "let prior = JP-2019-B" in lines
    assert "let gap = 731 days" in lines
    expected_fragment = [
        "when:",
        "  ✔ all of:",
        "    ✔ prior.direction != proposal.direction",
        "        prior.direction = expand",
        "        proposal.direction = restrict",
        '    ✔ proposal.direction != "neutral"',
        "        proposal.direction = restrict",
        "    ✔ any of:",
        "      ✔ gap <= reversal_window",
        "          gap = 731 days",
        "          reversal_window = 1,461 days",
        "      ✘ pledged",
        "        ✘ any of:",
        "          ✘ proposal.context.announced_in_campaign",
        '          ✘ proposal.rationale.trigger == "electoral_pledge"',
        "              proposal.rationale.trigger = —",
        "    ✔ not:",
        "      ✘ evidence_moved",
        "        ✘ any(e in proposal.rationale.evidence: "
        "moved(e.value, e.previous, material_change))",
        "          ✘ e #1: moved(e.value, e.previous, material_change)",
        "              e.value = 1.4",
        "              e.previous = 1.36",
        "              material_change = 10%",
        "severity:",
        "  high if pledged",
        "    ✘ pledged",
    ]
    start = lines.index("when:")
    assert lines[start : start + len(expected_fragment)] == expected_fragment
    assert lines[-1] == "  medium  ← chosen"


def test_explain_in_japanese(evaluator: Evaluator) -> None:
    explanation = evaluator.explain(
        proposal(), HISTORY, evaluator.params(), "unprincipled_reversal"
    )
    text = explanation.render("ja")
    assert "規則 unprincipled_reversal (normative_coherence, reversal)" in text
    assert "提案 P: 該当、重大度 中程度" in text
    assert "let gap = 731日" in text
    assert "  ✔ すべて成立:" in text
    assert "          reversal_window = 1,461日" in text
    assert "          （項目なし）" in text  # the proposal cites no evidence
    assert "  medium  ← 採用" in text


def test_explain_when_no_record_was_found(evaluator: Evaluator) -> None:
    explanation = evaluator.explain(proposal(), [], evaluator.params(), "unprincipled_reversal")
    assert not explanation.fired and explanation.when is None
    assert explanation.missing == "prior"
    assert explanation.render("en").splitlines()[2:] == [
        "proposal P: does not fire",
        "let prior = —",
        "    latest h in history where h.scope == proposal.scope and h.status == "
        '"enacted" and h.direction != "neutral"',
        "    found no record: the rule cannot fire",
    ]


def test_explain_a_rule_that_does_not_fire(evaluator: Evaluator) -> None:
    doc = proposal(direction="expand")
    explanation = evaluator.explain(doc, HISTORY, evaluator.params(), "unprincipled_reversal")
    assert not explanation.fired and explanation.severity is None
    text = explanation.render("en")
    assert "proposal P: does not fire" in text
    assert "  ✘ all of:" in text
    assert "    ✘ prior.direction != proposal.direction" in text
    assert "severity:" not in text


# --- source text ----------------------------------------------------------------------------

EXPRESSIONS = [
    "a and (b or c)",
    "not (a == b)",
    "not a == b",
    "(a + b) * c - -d",
    "a - (b - c)",
    "a / (b * c)",
    'proposal.area in ["exit", "integration"] or x not in [1, 2.5, 10%, 180 days]',
    "x is not null and y is empty and z is not empty and w is null",
    "any(e in proposal.rationale.evidence: moved(e.value, e.previous, 10%))",
    "count(e in xs: e > 2019-04-01) >= 2",
    'days(a, b) <= 30 days and t == "say \\"hi\\"\\n"',
    "true or false or null == null",
    "-(a + b)",
]


@pytest.mark.parametrize("text", EXPRESSIONS)
def test_unparse_round_trips(text: str) -> None:
    expr = parse(f"define x = {text}").defines[0].expr
    again = parse(f"define x = {unparse(expr)}").defines[0].expr
    assert again == expr


def test_definitions_are_computed_once_per_check(evaluator: Evaluator) -> None:
    env = Env(proposal(context={"announced_in_campaign": True}), evaluator.params())
    path = ast.Path("pledged")
    assert evaluator.evaluate(path, env) is True
    assert env.memo.defines == {"pledged": True}
    env.memo.defines["pledged"] = False  # a memo hit does not evaluate again
    assert evaluator.evaluate(path, env) is False
