"""The semantics section of the spec, rule by rule, as tables of cases with a note each."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker import semantics as s
from checker.documents import PolicyChange
from checker.lang.checked import Type

from . import day, policy

D = Decimal
SCOPE = ("JP", "entry_stay", "trainees")
OTHER_SCOPE = ("JP", "entry_stay", "students")
DURATION = Type("duration", integral=True)
PERCENT = Type("percent")
NUMBER = Type("number")


def case(note: str, *values: Any) -> Any:
    return pytest.param(*values, id=note)


# --- comparisons ----------------------------------------------------------------------------

COMPARISONS = [
    case("ordering with null on the left is false", "<", None, 1, False),
    case("ordering with null on the right is false", ">=", 1, None, False),
    case("ordering of two nulls is false", "<=", None, None, False),
    case("null equals null", "==", None, None, True),
    case("null is not equal to a number", "==", None, 0, False),
    case("!= treats null as a value", "!=", None, 0, True),
    case("!= of two nulls is false", "!=", None, None, False),
    case("null equals only null, not the empty text", "==", None, "", False),
    case("true is not 1, unlike Python", "==", True, 1, False),
    case("false is not 0", "==", False, 0, False),
    case("bool against number is a mismatch: != is false too", "!=", True, 1, False),
    case("bools compare as bools", "==", True, True, True),
    case("exact decimals: 1.0 == 1", "==", D("1.0"), 1, True),
    case("exact decimals: 0.1 + 0.2 written as 0.3", "==", D("0.3"), D("0.30"), True),
    case("decimal ordering is exact", "<", D("1.4959999999"), D("1.496"), True),
    case("a whole number and a decimal order", ">", 2, D("1.999"), True),
    case("dates compare as dates", "<", day("2019-04-01"), day("2019-04-02"), True),
    case("equal dates are not before each other", "<", day("2019-04-01"), day("2019-04-01"), False),
    case("an inclusive window: <= holds at the bound", "<=", 1461, D("1461"), True),
    case("a date does not order against a number", "<", day("2019-04-01"), 5, False),
    case("texts equal", "==", "enacted", "enacted", True),
    case("texts differ", "!=", "expand", "restrict", True),
    case("texts have no ordering", "<", "a", "b", False),
    case("a text is not its number", "==", "1", 1, False),
    case("a text against a number is a mismatch: != false", "!=", "1", 1, False),
    case("scopes equal", "==", SCOPE, tuple(SCOPE), True),
    case("scopes differ in the target", "!=", SCOPE, OTHER_SCOPE, True),
    case("a scope is not a list", "==", SCOPE, list(SCOPE), False),
    case("lists equal item by item, exactly", "==", [1, "a"], [D("1.0"), "a"], True),
    case("lists of different length differ", "!=", [1], [1, 1], True),
    case("maps equal by keys and values", "==", {"a": 1}, {"a": D("1")}, True),
    case("maps with other keys differ", "!=", {"a": 1}, {"b": 1}, True),
    case("a float (not a document value) compares false", "==", 1.0, 1, False),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), COMPARISONS)
def test_compare(op: str, a: Any, b: Any, expected: bool) -> None:
    assert s.compare(op, a, b) is expected


def test_compare_is_symmetric_for_equality() -> None:
    values = [None, True, 1, D("1"), "1", day("2020-01-01"), SCOPE, [1], {"a": 1}]
    for a in values:
        for b in values:
            assert s.compare("==", a, b) == s.compare("==", b, a)
            assert s.compare("!=", a, b) == s.compare("!=", b, a)


# --- arithmetic -----------------------------------------------------------------------------

ARITHMETIC = [
    case("null plus a number is null", "+", None, 1, None),
    case("a number times null is null", "*", 3, None, None),
    case("division by zero is null", "/", 1, 0, None),
    case("division by a decimal zero is null", "/", D("1.5"), D("0.0"), None),
    case("decimal addition is exact", "+", D("0.1"), D("0.2"), D("0.3")),
    case("1.496 - 1.36 is exactly 0.136", "-", D("1.496"), D("1.36"), D("0.136")),
    case("division gives an exact decimal", "/", 1, 4, D("0.25")),
    case("whole numbers stay whole", "+", 2, 3, 5),
    case("a date plus a duration is a date", "+", day("2019-04-01"), 1461, day("2023-04-01")),
    case("a duration plus a date is a date", "+", 30, day("2019-04-01"), day("2019-05-01")),
    case("a date minus a duration", "-", day("2019-04-01"), D("1"), day("2019-03-31")),
    case("a date minus a date is a duration", "-", day("2023-04-01"), day("2019-04-01"), 1461),
    case("a fractional duration does not add to a date", "+", day("2019-04-01"), D("0.5"), None),
    case("dates do not multiply", "*", day("2019-04-01"), 2, None),
    case("a duration minus a date is nothing", "-", 30, day("2019-04-01"), None),
    case("past the last calendar date is null, not an error", "+", dt.date.max, 1, None),
    case("overflow is null, not an error", "*", D("1E+999999"), D("1E+999999"), None),
    case("text does not add", "+", "a", 1, None),
    case("bools are not numbers", "+", True, 1, None),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), ARITHMETIC)
def test_arith(op: str, a: Any, b: Any, expected: Any) -> None:
    result = s.arith(op, a, b)
    assert result == expected
    assert type(result) is type(expected) or isinstance(expected, Decimal)


def test_arith_is_exact_beyond_binary_floating_point() -> None:
    # 0.1 added ten times is exactly 1 in decimal, 0.9999999999999999 in binary floats.
    total: Any = 0
    for _ in range(10):
        total = s.arith("+", total, D("0.1"))
    assert total == 1
    assert s.arith("/", D("0.136"), D("1.36")) == D("0.1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        case("minus a number", 5, -5),
        case("minus a decimal", D("1.5"), D("-1.5")),
        case("minus null is null", None, None),
        case("minus a text is null", "5", None),
        case("minus a bool is null", True, None),
    ],
)
def test_negate(value: Any, expected: Any) -> None:
    assert s.negate(value) == expected


# --- null, empty, membership, truth ---------------------------------------------------------

EMPTY = [
    case("null is empty", None, True),
    case("no items", [], True),
    case("only blank texts", ["", "  ", "\u3000"], True),
    case("a blank text", " \t\n", True),
    case("an ideographic space is blank", "\u3000", True),
    case("an empty map (no assessment)", {}, True),
    case("a list with one real text", ["", "ICRRA Art. 2-2"], False),
    case("a list of numbers is not empty", [0], False),
    case("a list holding null is not empty", [None], False),
    case("a text", "受入れ計画", False),
    case("zero is a value", 0, False),
    case("false is a value", False, False),
    case("a scope", SCOPE, False),
    case("a map with an entry", {"human_dignity": "x"}, False),
]


@pytest.mark.parametrize(("value", "expected"), EMPTY)
def test_is_empty(value: Any, expected: bool) -> None:
    assert s.is_empty(value) is expected


def test_is_null() -> None:
    assert s.is_null(None)
    assert not s.is_null("")
    assert not s.is_null(0)
    assert not s.is_null([])


MEMBERSHIP = [
    case("an item of a list", "exit", ["exit", "integration"], False, True),
    case("not an item", "border_control", ["exit"], False, False),
    case("not in: an absent item", "border_control", ["exit"], True, True),
    case("null is in nothing", None, ["exit", None], False, False),
    case("null not in is false as well", None, ["exit"], True, False),
    case("exact decimals in a list", D("1.0"), [1, 2], False, True),
    case("true is not the number 1", True, [1], False, False),
    case("a key of a map", "human_dignity", {"human_dignity": "…"}, False, True),
    case("nothing is in null", "exit", None, False, False),
    case("a text is no container", "a", "abc", False, False),
]


@pytest.mark.parametrize(("item", "container", "negated", "expected"), MEMBERSHIP)
def test_member(item: Any, container: Any, negated: bool, expected: bool) -> None:
    assert s.member(item, container, negated) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), (False, False), (None, False), (1, False), ("true", False), ([True], False)],
)
def test_only_true_is_true(value: Any, expected: bool) -> None:
    assert s.truthy(value) is expected


# --- fields ---------------------------------------------------------------------------------


def test_field_access() -> None:
    record = policy("JP-1", "2019-04-01", impact={"assessments": {"human_dignity": "ok"}})
    assert s.field(record, "scope") == SCOPE
    assert s.field(record, "no_such_field") is None
    assert s.path_value(record, ("impact", "assessments", "human_dignity")) == "ok"
    assert s.path_value(record, ("impact", "assessments", "legal_integrity")) is None
    assert s.path_value(record, ("impact", "expected_inflow", "deeper")) is None
    assert s.field(None, "id") is None
    assert s.field([1, 2], "id") is None


def test_an_extension_named_scope_is_read_as_written() -> None:
    record = policy("JP-1", "2019-04-01", extensions={"scope": "national"})
    assert s.path_value(record, ("extensions", "scope")) == "national"
    assert s.field(record, "scope") == SCOPE


# --- facts ----------------------------------------------------------------------------------


def test_to_fact_gives_plain_exact_values() -> None:
    doc = PolicyChange.model_validate(
        {
            "id": "JP-2018-SSW",
            "title": "Create the Specified Skilled Worker status",
            "jurisdiction": "JP",
            "area": "entry_stay",
            "target": "low_skilled_workers",
            "direction": "expand",
            "magnitude": "major",
            "instrument": "act",
            "legal_basis": ["ICRRA Art. 2-2"],
            "effective_on": "2019-04-01",
            "rationale": {
                "trigger": "evidence",
                "evidence": [{"indicator": "ratio", "value": 1.63, "previous": 1.36}],
            },
            "impact": {"expected_inflow": 69000, "assessments": {"human_dignity": "x"}},
            "extensions": {"share": 0.1, "nested": {"n": [1.5, "a"]}, "flag": True},
        }
    )
    fact = s.to_fact(doc)
    assert fact["area"] == "entry_stay" and type(fact["area"]) is str
    assert fact["status"] == "proposed" and type(fact["status"]) is str
    assert fact["effective_on"] == dt.date(2019, 4, 1)
    assert fact["proposed_on"] is None
    evidence = fact["rationale"]["evidence"][0]
    assert evidence["value"] == D("1.63") and evidence["previous"] == D("1.36")
    assert evidence["unit"] is None
    assert fact["impact"]["expected_inflow"] == 69000
    assert fact["impact"]["transition_days"] is None
    assert list(fact["impact"]["assessments"]) == ["human_dignity"]
    assert type(next(iter(fact["impact"]["assessments"]))) is str
    assert fact["extensions"] == {"share": D("0.1"), "nested": {"n": [D("1.5"), "a"]}, "flag": True}
    assert fact["rationale"]["trigger"] == "evidence"
    assert s.field(fact, "scope") == ("JP", "entry_stay", "low_skilled_workers")


def _no_floats(value: Any) -> bool:
    if isinstance(value, float):
        return False
    if isinstance(value, dict):
        return all(_no_floats(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_floats(v) for v in value)
    return True


def test_to_fact_never_holds_a_float() -> None:
    fact = policy("JP-1", "2019-04-01", extensions={"a": [0.5, {"b": 2.25}], "c": float("nan")})
    assert _no_floats(fact)
    assert fact["extensions"] == {"a": [D("0.5"), {"b": D("2.25")}], "c": None}


# --- built-in functions ---------------------------------------------------------------------

MOVED = [
    case("1.36 to 1.496 is exactly 10%: it moved", D("1.496"), D("1.36"), D("0.1"), True),
    case("1.36 to 1.495 is short of 10%", D("1.495"), D("1.36"), D("0.1"), False),
    case("1.36 to 1.224 is exactly -10%: it moved", D("1.224"), D("1.36"), D("0.1"), True),
    case("a negative previous value counts by its size", D("-0.9"), D("-1"), D("0.1"), True),
    case("from 0 any non-zero value moved", D("0.0001"), 0, D("0.1"), True),
    case("from 0 to 0 nothing moved", 0, D("0.0"), D("0.1"), False),
    case("no previous value: not moved", D("1.63"), None, D("0.1"), False),
    case("no value: not moved", None, D("1.36"), D("0.1"), False),
    case("no threshold: not moved", D("2"), D("1"), None, False),
    case("a text is no indicator value", "2", D("1"), D("0.1"), False),
]


@pytest.mark.parametrize(("value", "previous", "threshold", "expected"), MOVED)
def test_moved(value: Any, previous: Any, threshold: Any, expected: bool) -> None:
    assert s.moved(value, previous, threshold) is expected


CHANGE = [
    case("1.36 to 1.496 is a change of exactly 10%", D("1.496"), D("1.36"), D("0.1")),
    case("a fall is negative", D("1.224"), D("1.36"), D("-0.1")),
    case("relative to the size of a negative previous", D("-0.9"), D("-1"), D("0.1")),
    case("from 0 there is no relative change", 5, 0, None),
    case("no previous value", 5, None, None),
    case("no value", None, 5, None),
]


@pytest.mark.parametrize(("value", "previous", "expected"), CHANGE)
def test_change(value: Any, previous: Any, expected: Any) -> None:
    assert s.change(value, previous) == expected


FUNCTIONS = [
    case("days from a to b", "days", [day("2019-04-01"), day("2023-04-01")], 1461),
    case("days backwards are negative", "days", [day("2019-04-02"), day("2019-04-01")], -1),
    case("days with a null date", "days", [None, day("2019-04-01")], None),
    case("days of a text", "days", ["2019-04-01", day("2019-04-01")], None),
    case("abs", "abs", [D("-1.5")], D("1.5")),
    case("abs of null", "abs", [None], None),
    case("min of numbers", "min", [3, D("2.5"), 4], D("2.5")),
    case("max of dates", "max", [day("2019-04-01"), day("2020-01-01")], day("2020-01-01")),
    case("min with a null is null", "min", [1, None], None),
    case("max of a number and a date is null", "max", [1, day("2020-01-01")], None),
    case("len of a list", "len", [["a", "b"]], 2),
    case("len of a text counts characters", "len", ["特定技能"], 4),
    case("len of null", "len", [None], None),
    case("len of a number", "len", [12], None),
]


@pytest.mark.parametrize(("name", "args", "expected"), FUNCTIONS)
def test_functions(name: str, args: list[Any], expected: Any) -> None:
    assert s.call(name, args) == expected


def test_direction_changes_count_turns_along_the_sequence_and_the_proposal() -> None:
    steps = [
        policy("A", "2016-04-01", "restrict"),
        policy("B", "2018-04-01", "expand"),
        policy("C", "2020-04-01", "expand"),
        policy("D", "2022-04-01", "restrict"),
    ]
    proposal = policy("P", "2024-04-01", "expand", status="proposed")
    assert s.direction_changes(steps, proposal) == 3
    assert s.direction_changes([], proposal) == 0
    assert s.direction_changes(None, proposal) is None


# --- history query results ------------------------------------------------------------------


def test_latest_and_earliest_break_ties_to_the_greater_id() -> None:
    records = [
        policy("JP-B", "2019-04-01"),
        policy("JP-A", "2019-04-01"),
        policy("JP-Z", "2018-01-01"),
        policy("JP-C", "2018-01-01"),
    ]
    assert s.query_result("latest", records)["id"] == "JP-B"
    assert s.query_result("earliest", records)["id"] == "JP-Z"
    assert [r["id"] for r in s.query_result("sequence", records)] == [
        "JP-C",
        "JP-Z",
        "JP-A",
        "JP-B",
    ]
    assert s.query_result("count", records) == 4
    assert s.query_result("latest", []) is None
    assert s.query_result("earliest", []) is None


def test_ids_order_by_code_point() -> None:
    # "a" (U+0061) is greater than "Z" (U+005A); 特 (U+7279) greater than both.
    records = [policy(i, "2019-04-01") for i in ("Z", "a", "特定")]
    assert s.query_result("latest", records)["id"] == "特定"
    assert [r["id"] for r in s.query_result("sequence", records)] == ["Z", "a", "特定"]


# --- formatting -----------------------------------------------------------------------------

FORMATS = [
    case("an ISO date in English", day("2019-04-01"), None, "en", "2019-04-01"),
    case("a Japanese date", day("2019-04-01"), None, "ja", "2019年4月1日"),
    case("a duration", 1461, DURATION, "en", "1,461 days"),
    case("a duration in Japanese", D("1461"), DURATION, "ja", "1,461日"),
    case("one day", 1, DURATION, "en", "1 day"),
    case("a percentage", D("0.1"), PERCENT, "en", "10%"),
    case("a percentage with a fraction", D("0.125"), PERCENT, "ja", "12.5%"),
    case("a third, shown to two places", s.arith("/", 1, 3), PERCENT, "en", "33.33%"),
    case("a negative change", D("-0.1"), PERCENT, "en", "-10%"),
    case("persons with separators", 69000, NUMBER, "en", "69,000"),
    case("negative persons", -60000, NUMBER, "ja", "-60,000"),
    case("a decimal with separators", D("1234567.50"), None, "en", "1,234,567.5"),
    case("a decimal as written", D("1.36"), None, "en", "1.36"),
    case("an exponent is spelled out", D("1E+3"), None, "en", "1,000"),
    case("a whole decimal", D("820000.0"), None, "en", "820,000"),
    case("a scope", SCOPE, Type("scope"), "en", "JP/entry_stay/trainees"),
    case("null", None, DURATION, "en", "—"),
    case("null in Japanese", None, None, "ja", "—"),
    case("yes", True, None, "en", "yes"),
    case("no", False, None, "en", "no"),
    case("はい", True, None, "ja", "はい"),
    case("いいえ", False, None, "ja", "いいえ"),
    case("a list", ["a", "b"], None, "en", "a, b"),
    case("a list in Japanese", ["a", "b"], None, "ja", "a、b"),
    case(
        "a list of dates in Japanese",
        [day("2019-04-01"), day("2020-01-02")],
        Type("list", item=Type("date")),
        "ja",
        "2019年4月1日、2020年1月2日",
    ),
    case("an empty list", [], None, "en", "—"),
    case("a text stays as written", "特定技能1号", None, "ja", "特定技能1号"),
    case("a record shows its id", policy("JP-2019-SSW", "2019-04-01"), None, "en", "JP-2019-SSW"),
    case("another language reads as English", day("2019-04-01"), None, "fr", "2019-04-01"),
    case("a type that does not fit the value", "n/a", DURATION, "en", "n/a"),
]


@pytest.mark.parametrize(("value", "value_type", "lang", "expected"), FORMATS)
def test_format_value(value: Any, value_type: Type | None, lang: str, expected: str) -> None:
    assert s.format_value(value, value_type, lang) == expected


MEMO_NUMBERS = [
    Decimal("1"),
    Decimal("1.0"),
    Decimal("1.00"),
    Decimal("-1"),
    Decimal("100"),
    Decimal("1E+2"),
    Decimal("0"),
    Decimal("-0"),
    Decimal("0.1"),
    Decimal("0.10"),
    Decimal("0.1234567"),
    Decimal("0.1234565"),
    Decimal("1234567.891"),
    Decimal("1E+41"),
    Decimal("1E-41"),
    Decimal("9" * 70),
    0,
    1,
    -1,
    1461,
    -1234567,
    10**70,
]


@pytest.mark.parametrize("lang", ["en", "ja", "de"])
@pytest.mark.parametrize("kind", [None, "number", "percent", "duration"])
def test_number_texts_kept_equal_those_made_again(kind: str | None, lang: str) -> None:
    """A number's text is kept by (class, str(value), kind, language): values equal but
    written differently (1 and 1.0, 100 and 1E+2) must each keep their own text, and the kept
    text must be the one made anew."""
    declared = None if kind is None else Type(kind)
    ja = lang == "ja"
    for _ in range(2):  # made, then kept
        for value in MEMO_NUMBERS:
            made = s._format_number(value, kind, ja)
            assert s.format_value(value, declared, lang) == made, (value, kind, lang)
    assert s.format_value(Decimal("1.0"), None, "en") == "1"
    assert s.format_value(Decimal("1.5"), Type("duration"), "en") == "1.5 days"
    assert s.format_value(Decimal("1.0"), Type("duration"), "en") == "1 day"
    assert s.format_value(True, Type("number"), "en") == "yes"  # not the number 1


# --- placeholders ---------------------------------------------------------------------------

VALUES: dict[str, tuple[Any, Type | None]] = {
    "prior.id": ("JP-2019-SSW", None),
    "prior.effective_on": (day("2019-04-01"), None),
    "gap": (731, DURATION),
    "material_change": (D("0.1"), PERCENT),
    "x": (5, None),
}


def lookup(name: str) -> tuple[Any, Type | None]:
    return VALUES[name]


TEMPLATES = [
    case(
        "names and fields, formatted",
        "Reverses {prior.id} of {prior.effective_on} {gap} later.",
        "en",
        "Reverses JP-2019-SSW of 2019-04-01 731 days later.",
    ),
    case(
        "Japanese text around placeholders",
        "{prior.id}（{prior.effective_on}施行）を{gap}後に反転（{material_change}以上）",
        "ja",
        "JP-2019-SSW（2019年4月1日施行）を731日後に反転（10%以上）",
    ),
    case("doubled braces write braces", "{{x}} is {x}", "en", "{x} is 5"),
    case("a lone closing brace", "a } b", "en", "a } b"),
    case("closing braces doubled and single", "}}}", "en", "}}"),
    case("an unknown name stays as written", "see {nope.deeper}", "en", "see {nope.deeper}"),
    case("spaces inside braces: not a placeholder", "{ x }", "en", "{ x }"),
    case("a format spec is not a placeholder", "{x:>10} {x!r}", "en", "{x:>10} {x!r}"),
    case("a number is not a name", "{1}", "en", "{1}"),
    case("an unclosed brace", "{x", "en", "{x"),
    case("an empty pair", "{}", "en", "{}"),
    case("a trailing dot", "{x.}", "en", "{x.}"),
    case("a double dot", "{prior..id}", "en", "{prior..id}"),
    case("attribute names are only names", "{__class__}", "en", "{__class__}"),
    case("a brace before a placeholder", "{{x}{x}", "en", "{x}5"),
    case("no placeholders at all", "plain text", "en", "plain text"),
    case("empty text", "", "en", ""),
]


@pytest.mark.parametrize(("template", "lang", "expected"), TEMPLATES)
def test_interpolate(template: str, lang: str, expected: str) -> None:
    assert s.interpolate(template, lookup, lang) == expected


def test_placeholders_name_what_the_text_uses_and_where() -> None:
    template = "Reverses {prior.id} {{not}} {gap}"
    found = s.placeholders(template)
    assert [(p.name, template[p.start : p.end]) for p in found] == [
        ("prior.id", "{prior.id}"),
        ("gap", "{gap}"),
    ]


# --- JSON -----------------------------------------------------------------------------------

JSON = [
    case("a whole decimal is an int", D("2.0"), 2),
    case("a fraction is a float", D("1.50"), 1.5),
    case("an int", 7, 7),
    case("a date is ISO text", day("2019-04-01"), "2019-04-01"),
    case("a scope is a list", SCOPE, ["JP", "entry_stay", "trainees"]),
    case("null", None, None),
    case("a bool stays a bool", True, True),
    case(
        "nested values",
        {"a": [D("0.1"), day("2020-01-01")], "b": {"c": D("3")}},
        {"a": [0.1, "2020-01-01"], "b": {"c": 3}},
    ),
]


@pytest.mark.parametrize(("value", "expected"), JSON)
def test_to_json_value(value: Any, expected: Any) -> None:
    result = s.to_json_value(value)
    assert result == expected
    assert type(result) is type(expected)


# --- nothing a document holds makes an operation raise --------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.dates(),
    st.just(SCOPE),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=10,
)


@settings(max_examples=150, deadline=None)
@given(a=values, b=values, c=values)
def test_operations_are_total(a: Any, b: Any, c: Any) -> None:
    for op in ("==", "!=", "<", "<=", ">", ">="):
        assert s.compare(op, a, b) in (True, False)
    assert s.compare("==", a, b) == s.compare("==", b, a)
    for op in ("+", "-", "*", "/"):
        s.arith(op, a, b)
    s.negate(a)
    assert s.member(a, b) in (True, False)
    assert s.member(a, b, negated=True) in (True, False)
    assert s.is_empty(a) in (True, False)
    for name in ("days", "min", "max", "change", "direction_changes"):
        s.call(name, [a, b])
    for name in ("abs", "len"):
        s.call(name, [a])
    assert s.moved(a, b, c) in (True, False)
    for lang in ("en", "ja"):
        assert isinstance(s.format_value(a, None, lang), str)
        assert isinstance(s.format_value(a, DURATION, lang), str)
        assert isinstance(s.format_value(a, PERCENT, lang), str)
    s.to_json_value(a)


@settings(max_examples=300, deadline=None)
@given(template=st.text(alphabet="{}.ab_1 特", max_size=20))
def test_any_template_fills_without_raising(template: str) -> None:
    def known(name: str) -> tuple[Any, Type | None]:
        if name == "a":
            return (D("0.5"), PERCENT)
        raise KeyError(name)

    out = s.interpolate(template, known, "ja")
    # Whatever is not a placeholder comes through, with doubled braces halved.
    if "{" not in template and "}" not in template:
        assert out == template
