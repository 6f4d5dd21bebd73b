"""The engine against the reference evaluator: the same proposals, histories and parameters
must give the same fired rules, severities and bound records.

Two sources of rules: the default pack (`rules/`), and packs generated at random that are
well typed by construction, so that every shape the compiler knows (native, lowered, join
terms, residue, partitions, or-groups, severity rules) meets documents drawn at random.
With BCM_FUZZ=1 the slow variants run many more examples.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.compiler import check_plan_safety, compile_pack
from checker.documents import PolicyChange
from checker.engine import Engine
from checker.lang.checked import CheckedPack
from checker.lang.pack import load_checked_pack
from checker.reference import Evaluator, Fired, HistoryIndex
from checker.semantics import to_fact

from . import pack_from_text

FUZZ = os.environ.get("BCM_FUZZ") == "1"
ROOT = Path(__file__).resolve().parents[2]

# --- documents ------------------------------------------------------------------------------

JURISDICTIONS = ("JP", "KR")
AREAS = ("entry_stay", "integration", "exit")
TARGETS = ("students", "trainees", "難民認定申請者")
DIRECTIONS = ("expand", "restrict", "neutral")
MAGNITUDES = ("fine_tuning", "minor", "mid_level", "major")
INSTRUMENTS = ("act", "cabinet_order", "guideline", "public_notice", "program")
STATUSES = ("proposed", "enacted", "withdrawn", "struck_down")
TRIGGERS = ("evidence", "court_ruling", "electoral_pledge", "scheduled_review", "other")
PRINCIPLES = ("economic_rationality", "integration_capacity", "human_dignity")
TEXTS = ("", "  ", "Labour shortage", "人手不足", "students")

# A narrow calendar makes ties on dates, windows and "strictly before" common.
dates = st.dates(min_value=dt.date(2016, 1, 1), max_value=dt.date(2019, 12, 31))
small_dates = st.sampled_from([dt.date(2018, 1, 1), dt.date(2018, 6, 30), dt.date(2019, 4, 1)])
decimals = st.one_of(
    st.sampled_from([Decimal("0"), Decimal("1.36"), Decimal("1.496"), Decimal("-2.5")]),
    st.decimals(min_value=-100, max_value=100, places=3, allow_nan=False),
)
whole_or_none = st.one_of(st.none(), st.integers(0, 60000), st.sampled_from([0, 20000, 18000]))


_EVIDENCE = st.fixed_dictionaries(
    {
        "indicator": st.sampled_from(("jobs_ratio", "有効求人倍率")),
        "value": decimals,
        "previous": st.one_of(st.none(), decimals),
    }
)
# Built once: a strategy made inside a composite is validated again on every draw.
_DOCUMENT = st.fixed_dictionaries(
    {
        "title": st.just("t"),
        "jurisdiction": st.sampled_from(JURISDICTIONS),
        "area": st.sampled_from(AREAS),
        "target": st.sampled_from(TARGETS),
        "direction": st.sampled_from(DIRECTIONS),
        "magnitude": st.sampled_from(MAGNITUDES),
        "instrument": st.sampled_from(INSTRUMENTS),
        "legal_basis": st.sampled_from(([], ["ICRRA Art. 2-2"], ["  "])),
        "statuses": st.sampled_from(([], ["students"])),
        "effective_on": st.one_of(dates, small_dates).map(dt.date.isoformat),
        "status": st.sampled_from(STATUSES),
        "proposed_on": st.one_of(st.none(), dates.map(dt.date.isoformat)),
        "rationale": st.fixed_dictionaries(
            {
                "principles": st.lists(st.sampled_from(PRINCIPLES), max_size=2, unique=True),
                "statement": st.one_of(st.none(), st.sampled_from(TEXTS)),
                "trigger": st.one_of(st.none(), st.sampled_from(TRIGGERS)),
                "evidence": st.lists(_EVIDENCE, max_size=2),
            }
        ),
        "impact": st.fixed_dictionaries(
            {
                "expected_inflow": whole_or_none,
                "integration_capacity": whole_or_none,
                "affects_current_residents": st.booleans(),
                "retroactive": st.booleans(),
                "transition_days": st.one_of(st.none(), st.integers(0, 400)),
                "assessments": st.sampled_from(
                    ({}, {"human_dignity": ""}, {"human_dignity": "評価済み"})
                ),
            }
        ),
        "context": st.fixed_dictionaries(
            {
                "next_election_on": st.one_of(st.none(), dates.map(dt.date.isoformat)),
                "announced_in_campaign": st.booleans(),
            }
        ),
    }
)


@st.composite
def policy_changes(draw: st.DrawFn, id: str) -> dict[str, Any]:
    """A valid policy-change document from small pools, so that records meet proposals."""
    data = {"id": id, **draw(_DOCUMENT)}
    return to_fact(PolicyChange.model_validate(data))


@st.composite
def proposals(draw: st.DrawFn, id: str) -> dict[str, Any]:
    """A proposal: drawn field by field (shrinks well) or from a seed (fast)."""
    if draw(st.booleans()):
        return draw(policy_changes(id))
    return random_policy(random.Random(draw(st.integers(0, 2**32))), id)


def random_policy(rng: random.Random, id: str) -> dict[str, Any]:
    """A record like `policy_changes` draws, from a seeded generator: long histories are drawn
    by hypothesis as a size and a seed, which is fast enough for hundreds of records."""

    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.3 else value

    def day() -> str:
        if rng.random() < 0.3:
            return rng.choice(["2018-01-01", "2018-06-30", "2019-04-01"])
        return (dt.date(2016, 1, 1) + dt.timedelta(days=rng.randrange(1461))).isoformat()

    def number() -> Decimal:
        return rng.choice([Decimal("0"), Decimal("1.36"), Decimal("1.496"), Decimal("-2.5")])

    data: dict[str, Any] = {
        "id": id,
        "title": "t",
        "jurisdiction": rng.choice(JURISDICTIONS),
        "area": rng.choice(AREAS),
        "target": rng.choice(TARGETS),
        "direction": rng.choice(DIRECTIONS),
        "magnitude": rng.choice(MAGNITUDES),
        "instrument": rng.choice(INSTRUMENTS),
        "legal_basis": rng.choice(([], ["ICRRA Art. 2-2"], ["  "])),
        "effective_on": day(),
        "status": rng.choice(STATUSES),
        "rationale": {
            "principles": rng.sample(PRINCIPLES, rng.randrange(3)),
            "statement": maybe(rng.choice(TEXTS)),
            "trigger": maybe(rng.choice(TRIGGERS)),
            "evidence": [
                {"indicator": "x", "value": number(), "previous": maybe(number())}
                for _ in range(rng.randrange(3))
            ],
        },
        "impact": {
            "expected_inflow": maybe(rng.choice([0, 18000, 20000, rng.randrange(60000)])),
            "integration_capacity": maybe(rng.choice([0, 20000, rng.randrange(60000)])),
            "affects_current_residents": rng.random() < 0.5,
            "retroactive": rng.random() < 0.5,
            "transition_days": maybe(rng.randrange(400)),
        },
        "context": {"next_election_on": maybe(day()), "announced_in_campaign": rng.random() < 0.3},
        "proposed_on": maybe(day()),
    }
    return to_fact(PolicyChange.model_validate(data))


@st.composite
def histories(draw: st.DrawFn, max_size: int = 40) -> list[dict[str, Any]]:
    """Up to `max_size` records, now and then a few hundred; unique ids, several scopes.

    Short histories are drawn record by record (hypothesis shrinks them well); long ones
    from a seed."""
    if draw(st.integers(0, 9)) < 4:
        size = draw(st.integers(0, min(max_size, 6)))
        return [draw(policy_changes(f"R{n:03d}")) for n in range(size)]
    size = draw(st.integers(0, max_size * 6))
    rng = random.Random(draw(st.integers(0, 2**32)))
    return [random_policy(rng, f"R{n:03d}") for n in range(size)]


# --- comparing ------------------------------------------------------------------------------


def shown(value: Any) -> Any:
    """A let's value as the comparison sees it: records by id."""
    if isinstance(value, dict) and "effective_on" in value:
        return ("record", value["id"])
    if isinstance(value, list):
        return [shown(v) for v in value]
    return value


def summary(fired: list[Fired]) -> list[tuple[str, str, list[tuple[str, Any]]]]:
    return [
        (f.rule.id, f.severity, sorted((k, shown(v)) for k, v in f.env.lets.items())) for f in fired
    ]


def assert_same(
    engine: Engine,
    evaluator: Evaluator,
    proposal: dict[str, Any],
    key: str,
    index: HistoryIndex,
    params: dict[str, Decimal],
) -> None:
    expected = summary(evaluator.check(proposal, index, params))
    got = summary(engine.check(proposal, key, params))
    assert got == expected, f"proposal {proposal}"


# --- the default pack -----------------------------------------------------------------------

_DEFAULT: dict[str, Any] = {}


def default_pack() -> tuple[CheckedPack, Engine, Evaluator]:
    if not _DEFAULT:
        pack = load_checked_pack(str(ROOT / "rules"))
        _DEFAULT["pack"] = pack
        _DEFAULT["engine"] = Engine(pack, compile_pack(pack))
        _DEFAULT["evaluator"] = Evaluator(pack)
    return _DEFAULT["pack"], _DEFAULT["engine"], _DEFAULT["evaluator"]


_keys = itertools.count()


@st.composite
def default_params(draw: st.DrawFn, evaluator: Evaluator) -> dict[str, Decimal]:
    params = evaluator.params(None, draw(st.sampled_from(JURISDICTIONS)))
    if draw(st.booleans()):
        params["reversal_window"] = Decimal(draw(st.integers(0, 2000)))
        params["oscillation_window"] = Decimal(draw(st.integers(0, 4000)))
        params["election_window"] = Decimal(draw(st.integers(0, 400)))
        params["min_transition_days"] = Decimal(draw(st.integers(0, 400)))
        params["material_change"] = draw(st.sampled_from([Decimal("0.1"), Decimal("0.25")]))
        params["capacity_margin"] = draw(st.sampled_from([Decimal("0.9"), Decimal("0.5")]))
    return params


def run_default(data: st.DataObject, history_size: int) -> None:
    _, engine, evaluator = default_pack()
    records = data.draw(histories(history_size), label="history")
    key = f"h{next(_keys)}"
    engine.set_history(key, records)
    index = HistoryIndex(records)
    try:
        for n in range(data.draw(st.integers(1, 3), label="proposals")):
            proposal = data.draw(proposals(f"P{n}"), label="proposal")
            params = data.draw(default_params(evaluator), label="params")
            assert_same(engine, evaluator, proposal, key, index, params)
        # the same history grown: only the new records are asserted
        rng = random.Random(data.draw(st.integers(0, 2**32), label="added"))
        more = [random_policy(rng, f"X{n}") for n in range(rng.randrange(6))]
        engine.add_history(key, more)
        index.add(more)
        proposal = data.draw(proposals("P9"), label="last proposal")
        params = evaluator.params(None, "JP")
        assert_same(engine, evaluator, proposal, key, index, params)
    finally:
        engine.drop_history(key)


@settings(max_examples=1400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_default_pack_agrees_with_the_reference(data: st.DataObject) -> None:
    run_default(data, 30)


@pytest.mark.slow
@settings(
    max_examples=20000 if FUZZ else 50, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(st.data())
def test_default_pack_agrees_with_the_reference_long(data: st.DataObject) -> None:
    run_default(data, 60)


# --- generated packs ------------------------------------------------------------------------

ENUM_FIELDS = {
    "direction": DIRECTIONS,
    "magnitude": MAGNITUDES,
    "instrument": INSTRUMENTS,
    "area": ("border_control", *AREAS),
    "status": STATUSES,
    "rationale.trigger": TRIGGERS,
}
NULLABLE_ENUMS = {"rationale.trigger"}
TEXT_FIELDS = {"target": False, "jurisdiction": False, "rationale.statement": True,
               "impact.assessments.human_dignity": True}  # fmt: skip
BOOL_FIELDS = ("impact.affects_current_residents", "impact.retroactive",
               "context.announced_in_campaign")  # fmt: skip
WHOLE_FIELDS = ("impact.expected_inflow", "impact.integration_capacity")
DATE_FIELDS = {"effective_on": False, "proposed_on": True, "context.next_election_on": True}
LIST_FIELDS = ("legal_basis", "statuses", "rationale.principles")
NULLABLE = {"rationale.statement", "impact.assessments.human_dignity", "proposed_on",
            "context.next_election_on", "impact.expected_inflow", "impact.integration_capacity",
            "impact.transition_days", "rationale.trigger"}  # fmt: skip


class Scope:
    """What an expression may read where it is generated."""

    def __init__(
        self,
        records: tuple[str, ...],
        params: dict[str, str],
        defines: tuple[str, ...] = (),
        counts: tuple[str, ...] = (),
        sequences: tuple[str, ...] = (),
        durations: tuple[str, ...] = (),
    ) -> None:
        self.records = records  # names bound to a policy change: proposal, h, prior, ...
        self.params = params  # name → unit ("days", "%", "persons", "")
        self.defines = defines
        self.counts = counts
        self.sequences = sequences
        self.durations = durations

    def of_unit(self, unit: str) -> list[str]:
        return [n for n, u in self.params.items() if u == unit]


def _lit(value: str) -> str:
    return '"' + value + '"'


@st.composite
def whole_expr(draw: st.DrawFn, scope: Scope, depth: int) -> str:
    options = ["field", "literal", "literal"]
    if scope.counts:
        options.append("count")
    if scope.of_unit("persons") or scope.of_unit(""):
        options.append("param")
    if depth > 0:
        options += ["arith", "len"]
    kind = draw(st.sampled_from(options))
    if kind == "field":
        return f"{draw(st.sampled_from(scope.records))}.{draw(st.sampled_from(WHOLE_FIELDS))}"
    if kind == "literal":
        return str(draw(st.sampled_from([0, 1, 3, 18000, 20000, 50000])))
    if kind == "count":
        return draw(st.sampled_from(scope.counts))
    if kind == "param":
        return draw(st.sampled_from(scope.of_unit("persons") + scope.of_unit("")))
    if kind == "len":
        return f"len({draw(st.sampled_from(scope.records))}.{draw(st.sampled_from(LIST_FIELDS))})"
    left = draw(whole_expr(scope, depth - 1))
    right = draw(whole_expr(scope, depth - 1))
    return f"({left} {draw(st.sampled_from('+-'))} {right})"


@st.composite
def date_expr(draw: st.DrawFn, scope: Scope, depth: int) -> str:
    kind = draw(st.sampled_from(["field", "field", "literal", "shift"] if depth > 0 else ["field"]))
    if kind == "field":
        return f"{draw(st.sampled_from(scope.records))}.{draw(st.sampled_from(list(DATE_FIELDS)))}"
    if kind == "literal":
        return draw(small_dates).isoformat()
    return f"({draw(date_expr(scope, depth - 1))} + {draw(st.sampled_from([30, 365]))} days)"


@st.composite
def duration_expr(draw: st.DrawFn, scope: Scope, depth: int) -> str:
    options = ["literal", "days", "transition"]
    if scope.of_unit("days"):
        options += ["param", "param"]
    if scope.durations:
        options.append("let")
    if depth > 0:
        options.append("arith")
    kind = draw(st.sampled_from(options))
    if kind == "literal":
        return f"{draw(st.sampled_from([0, 1, 180, 365, 1461]))} days"
    if kind == "param":
        return draw(st.sampled_from(scope.of_unit("days")))
    if kind == "let":
        return draw(st.sampled_from(scope.durations))
    if kind == "transition":
        return f"{draw(st.sampled_from(scope.records))}.impact.transition_days"
    if kind == "days":
        start = draw(date_expr(scope, max(depth - 1, 0)))
        end = draw(date_expr(scope, max(depth - 1, 0)))
        return f"days({start}, {end})"
    left = draw(duration_expr(scope, depth - 1))
    right = draw(duration_expr(scope, depth - 1))
    return f"({left} {draw(st.sampled_from('+-'))} {right})"


ORDER = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
EQUALITY = st.sampled_from(["==", "!="])


@st.composite
def condition(draw: st.DrawFn, scope: Scope, depth: int) -> str:
    """A well-typed condition over what `scope` offers."""
    options = ["enum", "enum", "text", "bool", "null", "empty", "member", "whole", "duration",
               "date", "scope", "evidence", "percent"]  # fmt: skip
    if scope.defines:
        options.append("define")
    if scope.counts:
        options.append("count")
    if scope.sequences:
        options.append("swings")
    if depth > 0:
        options += ["and", "or", "not", "and", "or"]
    kind = draw(st.sampled_from(options))
    rec = draw(st.sampled_from(scope.records))
    other = draw(st.sampled_from(scope.records))
    if kind == "enum":
        name = draw(st.sampled_from(list(ENUM_FIELDS)))
        if draw(st.booleans()):
            return f"{rec}.{name} {draw(EQUALITY)} {other}.{name}"
        return f"{rec}.{name} {draw(EQUALITY)} {_lit(draw(st.sampled_from(ENUM_FIELDS[name])))}"
    if kind == "text":
        name = draw(st.sampled_from(list(TEXT_FIELDS)))
        if draw(st.booleans()):
            return f"{rec}.{name} {draw(EQUALITY)} {other}.{name}"
        return f"{rec}.{name} {draw(EQUALITY)} {_lit(draw(st.sampled_from(TARGETS + TEXTS)))}"
    if kind == "bool":
        field = f"{rec}.{draw(st.sampled_from(BOOL_FIELDS))}"
        return draw(st.sampled_from([field, f"{field} == true", f"{field} != false"]))
    if kind == "null":
        name = draw(st.sampled_from(sorted(NULLABLE)))
        return f"{rec}.{name} is {draw(st.sampled_from(['', 'not ']))}null"
    if kind == "empty":
        name = draw(st.sampled_from([*LIST_FIELDS, "rationale.statement", "rationale.evidence"]))
        return f"{rec}.{name} is {draw(st.sampled_from(['', 'not ']))}empty"
    if kind == "member":
        name = draw(st.sampled_from(list(ENUM_FIELDS)))
        values = draw(st.lists(st.sampled_from(ENUM_FIELDS[name]), min_size=1, max_size=3))
        word = draw(st.sampled_from(["in", "not in"]))
        if draw(st.booleans()):
            return f"{rec}.{name} {word} [{', '.join(_lit(v) for v in values)}]"
        principle = _lit(draw(st.sampled_from(PRINCIPLES)))
        return f"{principle} {word} {rec}.rationale.principles"
    if kind == "whole":
        left, right = draw(whole_expr(scope, 1)), draw(whole_expr(scope, 1))
        return f"{left} {draw(ORDER)} {right}"
    if kind == "duration":
        left, right = draw(duration_expr(scope, 1)), draw(duration_expr(scope, 1))
        return f"{left} {draw(ORDER)} {right}"
    if kind == "date":
        left, right = draw(date_expr(scope, 1)), draw(date_expr(scope, 1))
        return f"{left} {draw(ORDER)} {right}"
    if kind == "scope":
        return f"{rec}.scope {draw(EQUALITY)} {other}.scope"
    if kind == "evidence":
        body = draw(
            st.sampled_from(
                [
                    "e.value > 1.5",
                    "e.previous is null",
                    f"moved(e.value, e.previous, {draw(pct(scope))})",
                ]
            )
        )
        return f"{draw(st.sampled_from(['any', 'all']))}(e in {rec}.rationale.evidence: {body})"
    if kind == "percent":
        return (
            f"{rec}.impact.expected_inflow {draw(ORDER)} "
            f"{draw(pct(scope))} * {other}.impact.integration_capacity"
        )
    if kind == "define":
        return draw(st.sampled_from(scope.defines))
    if kind == "count":
        return f"{draw(st.sampled_from(scope.counts))} {draw(ORDER)} {draw(st.integers(0, 3))}"
    if kind == "swings":
        sequence = draw(st.sampled_from(scope.sequences))
        return f"direction_changes({sequence}, proposal) >= {draw(st.integers(0, 3))}"
    if kind == "not":
        return f"not ({draw(condition(scope, depth - 1))})"
    parts = draw(st.lists(condition(scope, depth - 1), min_size=2, max_size=3))
    return "(" + f" {kind} ".join(f"({p})" for p in parts) + ")"


@st.composite
def pct(draw: st.DrawFn, scope: Scope) -> str:
    named = scope.of_unit("%")
    if named and draw(st.booleans()):
        return draw(st.sampled_from(named))
    return draw(st.sampled_from(["10%", "90%", "50%"]))


@st.composite
def where(draw: st.DrawFn, scope: Scope) -> str:
    """A query's condition: pins, tests of the record, join comparisons, or-groups, anything."""
    here = Scope(("h", "proposal"), scope.params, scope.defines)
    record_only = Scope(("h",), scope.params)
    conjuncts: list[str] = []
    pin = draw(
        st.sampled_from(
            [
                "",
                "h.scope == proposal.scope",
                "h.scope == proposal.scope",
                "h.jurisdiction == proposal.jurisdiction",
                "proposal.area == h.area",
                'h.area == "exit"',
                "h.target == proposal.target",
            ]
        )
    )
    if pin:
        conjuncts.append(pin)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["record", "record", "join", "join", "group", "proposal",
                                     "any"]))  # fmt: skip
        if kind == "record":
            conjuncts.append(draw(condition(record_only, 0)))
        elif kind == "join":
            conjuncts.append(draw(join_test()))
        elif kind == "group":
            conjuncts.append(f"({draw(join_test())} or {draw(join_test())})")
        elif kind == "proposal":
            conjuncts.append(draw(condition(Scope(("proposal",), scope.params, scope.defines), 0)))
        else:
            conjuncts.append(draw(condition(here, 1)))
    if not conjuncts:
        return 'h.status == "enacted"'
    return " and ".join(f"({c})" for c in conjuncts)


@st.composite
def join_test(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["direction", "magnitude", "status", "target", "area"]))
    return draw(
        st.sampled_from(
            [
                f"h.{name} {draw(EQUALITY)} proposal.{name}",
                f"days(h.effective_on, proposal.effective_on) {draw(ORDER)} "
                f"{draw(st.sampled_from([0, 30, 365, 1000]))} days",
                f"h.effective_on {draw(ORDER)} proposal.effective_on",
                f"not (h.{name} == proposal.{name})",
                f"h.impact.expected_inflow {draw(ORDER)} proposal.impact.expected_inflow",
            ]
        )
    )


@st.composite
def rule_text(draw: st.DrawFn, n: int, scope: Scope) -> str:
    lets: list[str] = []
    records = ["proposal"]
    counts: list[str] = []
    sequences: list[str] = []
    durations: list[str] = []
    for m in range(draw(st.integers(0, 3))):
        name = f"q{n}_{m}"
        kind = draw(st.sampled_from(["latest", "latest", "earliest", "count", "sequence"]))
        lets.append(f"let {name} = {kind} h in history where {draw(where(scope))}")
        if kind in ("latest", "earliest"):
            records.append(name)
            if draw(st.booleans()):
                gap = f"gap{n}_{m}"
                lets.append(f"let {gap} = days({name}.effective_on, proposal.effective_on)")
                durations.append(gap)
        elif kind == "count":
            counts.append(name)
        else:
            sequences.append(name)
    inner = Scope(
        tuple(records), scope.params, scope.defines, tuple(counts), tuple(sequences),
        tuple(durations),
    )  # fmt: skip
    when = draw(condition(inner, 2))
    severity = draw(
        st.sampled_from(
            [
                "medium",
                f"high if {draw(condition(inner, 1))} else low",
                f"high if {draw(condition(inner, 1))} else medium if "
                f"{draw(condition(inner, 1))} else low",
            ]
        )
    )
    body = "\n    ".join(lets)
    return f"""
  rule r{n} {{
    kind {draw(st.sampled_from(["conflict", "tension", "note", "reversal"]))}
    {body}
    when {when}
    severity {severity}
    message en "m"
    remedy en "r"
  }}"""


@st.composite
def pack_texts(draw: st.DrawFn) -> str:
    params = {
        "window": ("days", draw(st.sampled_from([0, 365, 1461]))),
        "margin": ("%", draw(st.sampled_from([10, 90]))),
        "cap": ("persons", draw(st.sampled_from([0, 20000]))),
        "n": ("", draw(st.sampled_from([1, 3]))),
    }
    units = {name: unit for name, (unit, _) in params.items()}
    declared = "\n".join(
        f"  param {name} = {value}{' ' + unit if unit in ('days', 'persons') else unit}"
        for name, (unit, value) in params.items()
    )
    base = Scope(("proposal",), units)
    defines = []
    for k in range(draw(st.integers(0, 2))):
        defines.append(f"  define d{k} = {draw(condition(base, 1))}")
    scope = Scope(("proposal",), units, tuple(f"d{k}" for k in range(len(defines))))
    rules = "".join(draw(rule_text(n, scope)) for n in range(draw(st.integers(1, 3))))
    return f"""principle normative_coherence {{
  title en "t"
{declared}
{chr(10).join(defines)}
{rules}
}}
"""


_folders = itertools.count()
_TMP = Path(tempfile.mkdtemp(prefix="bcm-differential-"))


def run_generated(data: st.DataObject, history_size: int) -> None:
    text = data.draw(pack_texts(), label="pack")
    pack = pack_from_text(text, _TMP / f"p{next(_folders)}")
    plan = compile_pack(pack)
    assert check_plan_safety(plan) == []
    engine = Engine(pack, plan)
    evaluator = Evaluator(pack)
    try:
        records = data.draw(histories(history_size), label="history")
        engine.set_history("h", records)
        index = HistoryIndex(records)
        for n in range(data.draw(st.integers(1, 3), label="proposals")):
            proposal = data.draw(proposals(f"P{n}"), label="proposal")
            params = evaluator.params(None, None)
            if data.draw(st.booleans(), label="override"):
                params["window"] = Decimal(data.draw(st.integers(0, 2000), label="window"))
                params["cap"] = Decimal(data.draw(st.integers(0, 50000), label="cap"))
            assert_same(engine, evaluator, proposal, "h", index, params)
    finally:
        engine.close()


@settings(max_examples=450, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_generated_packs_agree_with_the_reference(data: st.DataObject) -> None:
    run_generated(data, 20)


@pytest.mark.slow
@settings(
    max_examples=20000 if FUZZ else 30, deadline=None, suppress_health_check=list(HealthCheck)
)
@given(st.data())
def test_generated_packs_agree_with_the_reference_long(data: st.DataObject) -> None:
    run_generated(data, 40)


@settings(max_examples=150 if not FUZZ else 5000, deadline=None,
          suppress_health_check=list(HealthCheck))  # fmt: skip
@given(pack_texts())
def test_every_generated_plan_is_safe(text: str) -> None:
    pack = pack_from_text(text, _TMP / f"s{next(_folders)}")
    assert check_plan_safety(compile_pack(pack)) == []
