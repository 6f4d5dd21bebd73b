"""The load-time checks: types, names, fields, placeholders and warnings, case by case.

Each table row is one thing a rule author may write, what bcm says about it, and why.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from checker.diagnostics import Diagnostic, Level
from checker.documents import PolicyChange
from checker.lang import ast
from checker.lang.check import check_files, children, split_template
from checker.lang.checked import CheckedPack, Manifest, Type
from checker.lang.parse import parse
from checker.lang.types import FieldError, field_type

MANIFEST = Manifest(name="test", version="1")


def _pack(
    texts: dict[str, str], manifest: Manifest = MANIFEST
) -> tuple[CheckedPack | None, list[Diagnostic]]:
    files = [parse(text, name) for name, text in texts.items()]
    return check_files(files, manifest, texts)


def _rule_file(
    when: str,
    *,
    lets: str = "",
    head: str = "",
    message: str = "A finding.",
    severity: str = "medium",
    extra_rules: str = "",
) -> str:
    return f"""{head}
principle legal_integrity {{
  title en "Legal integrity"
  rule probe {{
    kind conflict
{lets}
    when {when}
    severity {severity}
    message en "{message}"
    remedy en "Mend it."
  }}
{extra_rules}}}
"""


def diagnose(when: str, **kwargs: str) -> list[Diagnostic]:
    _, diagnostics = _pack({"t.bcm": _rule_file(when, **kwargs)})
    return diagnostics


def error_codes(when: str, **kwargs: str) -> list[str]:
    return [d.code for d in diagnose(when, **kwargs) if d.level is Level.error]


HEAD = """
param window = 365 days
param margin = 90%
param cap = 50000 persons
param threshold = 10%
"""
PRIOR = "    let prior = latest h in history where h.scope == proposal.scope\n"


# --- types of expressions ---------------------------------------------------------------------


def type_of(expr: str, lets: str = "") -> Type:
    text = _rule_file("probe_value is not null", lets=f"{lets}    let probe_value = {expr}\n")
    pack, diagnostics = _pack({"t.bcm": text})
    assert pack is not None, [d.message for d in diagnostics]
    let = pack.rules[0].rule.lets[-1]
    return pack.types[id(let.value)]


@pytest.mark.parametrize(
    ("expr", "kind", "extra"),
    [
        ("180 days", "duration", {"integral": True}),
        ("10%", "percent", {}),
        ("500 persons", "number", {"integral": True}),
        ("3.5", "number", {"integral": False}),
        ("proposal.effective_on + 30 days", "date", {}),
        ("proposal.effective_on - 30 days", "date", {}),
        ("30 days + proposal.effective_on", "date", {}),
        ("proposal.effective_on + 30", "date", {}),  # a plain number reads as days
        ("days(proposal.proposed_on, proposal.effective_on)", "duration", {"nullable": True}),
        ("days(proposal.effective_on, proposal.effective_on)", "duration", {"nullable": False}),
        ("proposal.impact.transition_days", "duration", {"nullable": True, "integral": True}),
        ("proposal.impact.transition_days + 3", "duration", {}),
        ("proposal.impact.expected_inflow + proposal.impact.transition_days", "duration", {}),
        ("proposal.impact.expected_inflow * 10%", "number", {}),
        ("10% * proposal.impact.expected_inflow", "number", {}),
        ("proposal.impact.transition_days * 10%", "duration", {}),
        ("proposal.impact.transition_days / 7 days", "number", {"nullable": True}),
        ("proposal.impact.expected_inflow / 2", "number", {"nullable": True}),
        ("-proposal.impact.transition_days", "duration", {}),
        ("change(proposal.impact.expected_inflow, 100)", "percent", {"nullable": True}),
        ("abs(change(1, 2))", "percent", {}),
        ("max(proposal.impact.expected_inflow, 0)", "number", {"nullable": True}),
        ("min(proposal.impact.transition_days, 365)", "duration", {}),
        ("len(proposal.statuses)", "number", {"integral": True}),
        ("len(proposal.title)", "number", {"integral": True}),
        ("count(e in proposal.rationale.evidence: e.previous is null)", "number", {}),
        ("any(e in proposal.rationale.evidence: e.value > 1)", "bool", {}),
        ("moved(1.496, 1.36, 10%)", "bool", {}),
        ("proposal.scope", "scope", {}),
        ("proposal.extensions.local.budget.total", "any", {}),
        ("proposal.impact.assessments.human_dignity", "text", {"nullable": True}),
        ("proposal.impact.assessments", "map", {}),
        ("proposal.rationale.principles", "list", {}),
        ("proposal.rationale.evidence", "list", {}),
        ("proposal.rationale.trigger", "enum", {"nullable": True}),
        ("proposal.context.next_election_on", "date", {"nullable": True}),
        ("proposal", "record", {"model": "PolicyChange"}),
        ("proposal.impact", "record", {"model": "Impact"}),
        ('["a", "b"]', "list", {}),
        ('proposal.area in ["exit"]', "bool", {}),
    ],
)
def test_expression_types(expr: str, kind: str, extra: dict[str, object]) -> None:
    t = type_of(expr)
    assert t.kind == kind
    for attribute, value in extra.items():
        assert getattr(t, attribute) == value, attribute


@pytest.mark.parametrize(
    ("query", "kind", "model"),
    [
        ("latest h in history where h.scope == proposal.scope", "record", "PolicyChange"),
        ('earliest h in history where h.status == "enacted"', "record", "PolicyChange"),
        ('count h in history where h.direction == "restrict"', "number", None),
        ("sequence h in history where h.scope == proposal.scope", "sequence", None),
    ],
)
def test_query_types(query: str, kind: str, model: str | None) -> None:
    t = type_of(query)
    assert t.kind == kind
    if model:
        assert t.model == model
    if kind == "sequence":
        assert t.item is not None and t.item.model == "PolicyChange"


def test_quantifier_variable_has_the_item_type_of_its_list() -> None:
    text = _rule_file("any(e in proposal.rationale.evidence: e.previous > e.value)")
    pack, _ = _pack({"t.bcm": text})
    assert pack is not None
    condition = pack.rules[0].rule.when
    assert isinstance(condition, ast.Quantifier)
    assert isinstance(condition.condition, ast.Compare)
    assert pack.type_of(condition.condition.left) == Type("number", nullable=True)
    assert pack.type_of(condition.condition.right) == Type("number")


def test_a_bound_record_has_the_fields_of_a_policy_change() -> None:
    t = type_of("prior.context.next_election_on", lets=PRIOR)
    assert t.kind == "date" and t.nullable


# --- type errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "code", "note"),
    [
        ("proposal.effective_on > 3", "E401", "a date is not a number"),
        ('proposal.scope == "JP"', "E401", "a scope is not a text"),
        ("proposal.impact.expected_inflow > 10%", "E401", "a count is not a percentage"),
        (
            "count(e in proposal.rationale.evidence: e.previous is null) > 30 days",
            "E401",
            "a count is not a duration",
        ),
        ("proposal.area == proposal.direction", "E401", "two enums that share no value"),
        ("prior == proposal", "E401", "records are compared by their fields"),
        ("proposal.effective_on == proposal.title", "E401", "a date is not a text"),
        ('proposal.direction == "expnad"', "E402", "misspelt enum value"),
        ('proposal.direction != "Expand"', "E402", "enum values are case-sensitive"),
        ('proposal.area in ["exit", "entyr_stay"]', "E402", "each listed value is checked"),
        ('"human_dignty" in proposal.rationale.principles', "E402", "a list of enum values"),
        ('prior.status == "enactd"', "E402", "fields of a bound record"),
        ('proposal.magnitude < "major"', "E403", "enums have no order"),
        ('proposal.title >= "a"', "E403", "texts have no order"),
        ("proposal.effective_on < null", "E403", "null has no order"),
        ("proposal.effective_on + 10% > proposal.effective_on", "E404", "date + percent"),
        ("proposal.effective_on + proposal.proposed_on > 2020-01-01", "E404", "date + date"),
        ("proposal.effective_on - proposal.proposed_on > 3 days", "E404", "date - date"),
        ("proposal.effective_on * 2 > 2020-01-01", "E404", "dates do not multiply"),
        (
            "proposal.effective_on + proposal.impact.expected_inflow > 2020-01-01",
            "E404",
            "a date moves by a duration, not by a count",
        ),
        ("proposal.impact.expected_inflow + 10% > 3", "E404", "percent added to a number"),
        ('proposal.title + "x" == "y"', "E404", "no text arithmetic"),
        ("-proposal.title == 3", "E404", "texts have no sign"),
        ("proposal.impact.retroactive and 3", "E405", "a number is not a condition"),
        ("not proposal.title", "E405", "a text is not a condition"),
        ("proposal.impact.expected_inflow", "E405", "when needs a condition"),
        ("any(e in proposal.rationale.evidence: e.value)", "E405", "quantifier condition"),
        ("proposal.area in proposal.title", "E406", "in needs a list"),
        ("proposal.effective_on in proposal.statuses", "E406", "a date is never a text item"),
        ("proposal.effective_on is empty", "E407", "dates are not empty, they are null"),
        ("any(e in 3: true)", "E408", "a number is not a list"),
        ('any(s in ["a"]: s == proposal.target)', "E408", "literal lists use `in`"),
        ("days(proposal.effective_on) > 1 days", "E409", "days takes two dates"),
        ("moved(1, 2)", "E409", "moved takes three arguments"),
        ("max(proposal.impact.expected_inflow) > 1", "E409", "max takes two or more"),
        ("days(1, 2) > 1 days", "E410", "days needs dates"),
        ("moved(proposal.title, 1, 10%)", "E410", "moved needs numbers"),
        ("moved(1, 2, 3 days)", "E410", "the threshold is a percentage"),
        ("len(3) > 1", "E410", "len needs a list, text or map"),
        ("direction_changes(proposal, proposal) > 1", "E410", "needs a sequence"),
        ("abs(proposal.effective_on) > 1", "E410", "abs needs a number"),
        ("max(1 days, 10%) > 1 days", "E410", "max of two kinds"),
        ('[1, "a"] is empty', "E411", "a list of one kind"),
    ],
)
def test_type_errors(when: str, code: str, note: str) -> None:
    assert code in error_codes(when, lets=PRIOR, head=HEAD), note


@pytest.mark.parametrize(
    ("when", "note"),
    [
        ("days(proposal.proposed_on, proposal.effective_on) <= 365", "plain number as days"),
        ("change(proposal.impact.expected_inflow, 100) >= 0.1", "plain number as a ratio"),
        ("proposal.impact.transition_days < window", "duration field and parameter"),
        ("days(prior.effective_on, proposal.effective_on) <= window", "bound record's date"),
        ("proposal.target == proposal.area", "a text compares with an enum"),
        ('proposal.extensions.x > 3 and proposal.extensions.y == "a"', "extensions are any"),
        ("proposal.extensions.flag", "an `any` value is a condition"),
        (
            "proposal.impact.expected_inflow > proposal.impact.integration_capacity * margin",
            "number times percent is a number",
        ),
        ("proposal.impact.expected_inflow >= cap", "persons are numbers"),
        ('proposal.area in ["exit", "entry_stay"]', "listed enum values"),
        ('proposal.area not in ["exit"]', "not in"),
        ('"human_dignity" in proposal.rationale.principles', "a principle id in a list"),
        ("proposal.impact.assessments is empty", "a map can be empty"),
        ("proposal.impact.assessments.human_dignity is empty", "an assessment can be empty"),
        ("proposal.statuses is not empty", "a list can be empty"),
        ("proposal.proposed_on is null", "anything can be null"),
        ("proposal.impact.expected_inflow == null", "null equals only null"),
        ("proposal.effective_on + 30 > proposal.proposed_on", "plain number moves a date"),
        ("proposal.effective_on - 30 days >= 2019-04-01", "date literal"),
        ("moved(1.496, 1.36, 0.1)", "a plain threshold is a ratio"),
        (
            "not any(e in proposal.rationale.evidence: moved(e.value, e.previous, threshold))",
            "the language reference's example",
        ),
        ("h_count > 2", "a count query is a number"),
        ("prior.scope == proposal.scope and prior.direction != proposal.direction", "records"),
        ("-proposal.impact.expected_inflow < 0", "negative numbers"),
        ('proposal.rationale.trigger in ["court_ruling", null]', "null in a list"),
        ('all(s in proposal.statuses: s != "")', "all over texts"),
    ],
)
def test_well_typed_conditions(when: str, note: str) -> None:
    lets = PRIOR + "    let h_count = count h in history where h.area == proposal.area\n"
    assert error_codes(when, lets=lets, head=HEAD) == [], note


def test_enum_error_lists_the_allowed_values_and_the_nearest() -> None:
    (found,) = [d for d in diagnose('proposal.direction == "expnad"') if d.code == "E402"]
    assert found.message == '"expnad" is not a value of `proposal.direction`'
    assert found.help == "did you mean `expand`? allowed: expand, neutral, restrict"
    assert found.span is not None and (found.span.line, found.span.column) == (7, 32)


def test_date_arithmetic_error_points_to_days() -> None:
    (found,) = [d for d in diagnose("proposal.effective_on - proposal.proposed_on > 3 days")]
    assert found.code == "E404"
    assert "use days(a, b)" in (found.help or "")


def test_text_compared_with_a_scope_explains_scopes() -> None:
    (found,) = diagnose('proposal.scope == "JP"')
    assert found.code == "E401"
    assert "h.scope == proposal.scope" in (found.help or "")


# --- fields -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "code", "help_text"),
    [
        ("proposal.legal_bases is empty", "E301", "did you mean `legal_basis`?"),
        ("proposal.impact.expected_inflw > 1", "E301", "did you mean `expected_inflow`?"),
        ('prior.directon == "expand"', "E301", "did you mean `direction`?"),
        ("any(e in proposal.rationale.evidence: e.valeu > 1)", "E301", "did you mean `value`?"),
        ("proposal.title.length > 80", "E302", None),
        ("window.days > 3 days", "E302", None),
        ("proposal.impact.assessments.human_dignty is empty", "E303", "did you mean"),
    ],
)
def test_field_errors(when: str, code: str, help_text: str | None) -> None:
    found = [d for d in diagnose(when, lets=PRIOR, head=HEAD) if d.is_error]
    assert [d.code for d in found] == [code]
    if help_text:
        assert help_text in (found[0].help or "")


def test_field_error_points_at_the_field_not_the_path() -> None:
    (found,) = diagnose("proposal.legal_bases is empty")
    assert found.span is not None
    assert (found.span.line, found.span.column, found.span.end_column) == (7, 19, 30)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (["effective_on"], Type("date")),
        (["proposed_on"], Type("date", nullable=True)),
        (["impact", "transition_days"], Type("duration", nullable=True, integral=True)),
        (["impact", "expected_inflow"], Type("number", nullable=True, integral=True)),
        (["impact", "affects_current_residents"], Type("bool")),
        (["impact", "assessments", "social_stability"], Type("text", nullable=True)),
        (["extensions", "anything", "at", "all"], Type("any", nullable=True)),
        (["scope"], Type("scope")),
        (["statuses"], Type("list", item=Type("text"))),
    ],
)
def test_field_types_come_from_the_document_model(path: list[str], expected: Type) -> None:
    assert field_type(PolicyChange, path) == expected


def test_every_field_of_the_document_model_has_a_type() -> None:
    for name in PolicyChange.model_fields:
        assert not isinstance(field_type(PolicyChange, [name]), FieldError), name


def test_field_type_says_which_part_failed() -> None:
    found = field_type("PolicyChange", ["impact", "expected_inflw"])
    assert isinstance(found, FieldError)
    assert (found.index, found.code) == (1, "E301")
    assert found.help == "did you mean `expected_inflow`?"


# --- names ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ({"when": "windw > 3 days"}, "E201"),
        ({"when": "any(e in proposal.rationale.evidence: true) and e.value > 1"}, "E201"),
        ({"when": 'h.id == "x"', "lets": PRIOR}, "E201"),
        (
            {
                "when": 'gap > 3 days and prior.id == "x"',
                "lets": PRIOR + "    let gap = later\n    let later = 3 days\n",
            },
            "E202",
        ),
        (
            {
                "when": "gap > 3 days",
                "extra_rules": "  rule other {\n    kind note\n    let gap = 3 days\n"
                '    when gap > 1 days\n    severity low\n    message en "m"\n'
                '    remedy en "r"\n  }\n',
            },
            "E202",
        ),
        ({"when": "a", "head": "define a = b\ndefine b = a"}, "E203"),
        ({"when": "a", "head": "define a = a"}, "E203"),
        ({"when": "d", "head": 'define d = prior.id == "x"', "lets": PRIOR}, "E204"),
        ({"when": "len(history) > 1"}, "E205"),
        (
            {
                "when": "n > 1",
                "lets": "    let start = 2019-01-01\n"
                "    let n = count h in history where h.effective_on > start\n",
            },
            "E206",
        ),
        ({"when": "dayz(proposal.proposed_on, proposal.effective_on) > 1 days"}, "E207"),
        (
            {"when": "window > 1 days", "head": "param window = 3 days\nparam window = 4 days"},
            "E103",
        ),
        (
            {"when": "window > 1 days", "head": "param window = 3 days\ndefine window = true"},
            "E103",
        ),
        ({"when": "g > 1 days", "lets": "    let g = 1 days\n    let g = 2 days\n"}, "E103"),
        ({"when": "proposal.impact.retroactive", "head": "param proposal = 3"}, "E104"),
        ({"when": "proposal.impact.retroactive", "head": "define count = true"}, "E104"),
        ({"when": "history > 1", "lets": "    let history = 1\n"}, "E104"),
        ({"when": "window > 1 days", "lets": "    let window = 3 days\n", "head": HEAD}, "E105"),
        (
            {"when": 'any(window in proposal.statuses: window == "a")', "head": HEAD},
            "E105",
        ),
        (
            {
                "when": "any(e in proposal.rationale.evidence: "
                'any(e in proposal.statuses: e == "a"))'
            },
            "E105",
        ),
        (
            {
                "when": 'prior.id == "x"',
                "lets": "    let prior = latest prior in history "
                "where prior.area == proposal.area\n",
            },
            "E105",
        ),
    ],
)
def test_name_resolution(case: dict[str, str], code: str) -> None:
    assert code in error_codes(**case)


def test_unknown_name_suggests_the_nearest_visible_name() -> None:
    (found,) = [d for d in diagnose("windw > 3 days", head=HEAD) if d.is_error]
    assert found.message == "unknown name `windw`"
    assert found.help == "did you mean `window`?"


def test_let_of_another_rule_names_that_rule() -> None:
    other = (
        "  rule other {\n    kind note\n    let gap = 3 days\n    when gap > 1 days\n"
        '    severity low\n    message en "m"\n    remedy en "r"\n  }\n'
    )
    (found,) = [d for d in diagnose("gap > 3 days", extra_rules=other) if d.is_error]
    assert found.message == "`gap` is a `let` of rule `other`, not visible here"


def test_definitions_and_parameters_are_shared_across_files() -> None:
    shared = "param window = 365 days\ndefine pledged = proposal.context.announced_in_campaign\n"
    rule = _rule_file("pledged and days(proposal.proposed_on, proposal.effective_on) < window")
    pack, diagnostics = _pack({"a.bcm": shared, "b.bcm": rule})
    assert pack is not None, diagnostics
    assert diagnostics == []
    assert set(pack.params) == {"window"} and set(pack.defines) == {"pledged"}


def test_definitions_may_be_used_before_they_are_written() -> None:
    head = "define a = b and proposal.impact.retroactive\ndefine b = proposal.impact.retroactive"
    pack, diagnostics = _pack({"t.bcm": _rule_file("a", head=head)})
    assert pack is not None, diagnostics
    assert pack.type_of(pack.defines["a"].expr) == Type("bool")


# --- declarations -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code", "message"),
    [
        (
            'principle legal_integrety { title en "x" }',
            "E101",
            "`legal_integrety` is not a principle of the model",
        ),
        (
            'principle legal_integrity { title ja "法的整合性" }',
            "E111",
            "principle `legal_integrity` has no `title en`",
        ),
        (
            'principle legal_integrity { title en "x" title en "y" }',
            "E112",
            "principle `legal_integrity` has two `title en` texts",
        ),
        (
            'principle legal_integrity { title en "x" title EN "y" }',
            "E109",
            "`EN` is not a language code",
        ),
        (
            'principle legal_integrity { title en "x" title jp "y" }',
            "E109",
            "`jp` is a country code, not a language code",
        ),
        (
            'principle legal_integrity { title en "x" about { demands "x" wy "y" } }',
            "E110",
            "`wy` is not a section of an `about` block",
        ),
        (
            'principle legal_integrity { title en "x" about { why "x" why "y" } }',
            "E112",
            "the `about` block has two `why en` sections",
        ),
    ],
)
def test_principle_declarations(text: str, code: str, message: str) -> None:
    _, diagnostics = _pack({"t.bcm": text})
    assert (code, message) in [(d.code, d.message) for d in diagnostics]


def test_principle_about_may_state_demands_but_a_rule_about_may_not() -> None:
    about = '    about {\n      demands "x"\n    }\n'
    text = _rule_file("proposal.impact.retroactive").replace(
        "  rule probe {", "  rule probe {\n" + about
    )
    _, diagnostics = _pack({"t.bcm": text})
    assert [d.code for d in diagnostics] == ["E110"]


@pytest.mark.parametrize(
    ("drop", "message"),
    [
        ("    kind conflict\n", "rule `probe` has no `kind`"),
        ("    when proposal.impact.retroactive\n", "rule `probe` has no `when`"),
        ("    severity medium\n", "rule `probe` has no `severity`"),
        ('    message en "A finding."\n', "rule `probe` has no `message en`"),
        ('    remedy en "Mend it."\n', "rule `probe` has no `remedy en`"),
    ],
)
def test_every_rule_needs_its_clauses(drop: str, message: str) -> None:
    text = _rule_file("proposal.impact.retroactive")
    assert drop in text
    _, diagnostics = _pack({"t.bcm": text.replace(drop, "")})
    assert [(d.code, d.message) for d in diagnostics] == [("E108", message)]


@pytest.mark.parametrize(
    ("old", "new", "code", "help_text"),
    [
        ("kind conflict", "kind conflcit", "E106", "did you mean `conflict`?"),
        ("severity medium", "severity meduim", "E107", "did you mean `medium`?"),
        (
            "severity medium",
            "severity high if proposal.impact.retroactive else lwo",
            "E107",
            "did you mean `low`?",
        ),
        ('message en "A finding."', 'message en "A finding." message EN "x"', "E109", "`en`"),
        ('remedy en "Mend it."', 'remedy en "Mend it." remedy en "Again."', "E112", "keep one"),
    ],
)
def test_rule_declarations(old: str, new: str, code: str, help_text: str) -> None:
    text = _rule_file("proposal.impact.retroactive").replace(old, new)
    _, diagnostics = _pack({"t.bcm": text})
    found = [d for d in diagnostics if d.code == code]
    assert found, [d.code for d in diagnostics]
    assert help_text in (found[0].help or "")


def test_severity_level_error_points_at_the_level_after_else() -> None:
    text = _rule_file(
        "proposal.impact.retroactive", severity="high if proposal.impact.retroactive else lwo"
    )
    _, diagnostics = _pack({"t.bcm": text})
    (found,) = diagnostics
    assert found.span is not None
    line = text.splitlines()[found.span.line - 1]
    assert line[found.span.column - 1 : found.span.end_column - 1] == "lwo"


def test_duplicate_rule_ids_across_files() -> None:
    text = _rule_file("proposal.impact.retroactive")
    _, diagnostics = _pack({"a.bcm": text, "b.bcm": text.replace('title en "Legal integrity"', "")})
    (found,) = diagnostics
    assert (found.code, found.span.file if found.span else None) == ("E102", "b.bcm")
    assert "a.bcm:4:3" in (found.help or "")


def test_a_principle_may_span_several_files() -> None:
    first = _rule_file("proposal.impact.retroactive")
    second = first.replace("rule probe", "rule second_probe").replace(
        'title en "Legal integrity"', 'title ja "法的整合性"'
    )
    pack, diagnostics = _pack({"a.bcm": first, "b.bcm": second})
    assert pack is not None, diagnostics
    principle = pack.principles["legal_integrity"]
    assert [t.lang for t in principle.titles] == ["en", "ja"]
    assert [r.name for r in principle.rules] == ["probe", "second_probe"]


# --- placeholders -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "codes"),
    [
        ("Reverses {prior.id} of {prior.effective_on}.", []),
        ("Window {window}, inflow {proposal.impact.expected_inflow}.", []),
        ("Braces {{like this}} stay.", []),
        ("Own data {proposal.extensions}.", []),
        ("{nope}", ["E501"]),
        ("{e.value}", ["E501"]),
        ("{proposal.idd}", ["E301"]),
        ("{window.days}", ["E302"]),
        ("{proposal.__class__}", ["E502"]),
        ("{proposal.__class__.__init__.__globals__}", ["E502"]),
        ("{_private}", ["E502"]),
        ("{len(proposal.title)}", ["E502"]),
        ("{prior id}", ["E502"]),
        ("{prior.id + 1}", ["E502"]),
        ("{}", ["E502"]),
        ("{proposal.id", ["E503"]),
        ("closes }", ["E503"]),
        ("{prior}", ["E504"]),
        ("{proposal.impact}", ["E504"]),
        ("{proposal.impact.assessments}", ["E504"]),
    ],
)
def test_placeholders(message: str, codes: list[str]) -> None:
    found = diagnose("proposal.impact.retroactive", message=message, lets=PRIOR, head=HEAD)
    assert [d.code for d in found if d.is_error] == codes


def test_a_placeholder_error_points_inside_the_japanese_text() -> None:
    text = _rule_file("proposal.impact.retroactive").replace(
        'remedy en "Mend it."',
        'remedy en "Mend it."\n    remedy ja "「{proposl.id}」を見直してください。"',
    )
    _, diagnostics = _pack({"t.bcm": text})
    (found,) = [d for d in diagnostics if d.code == "E501"]
    assert found.span is not None
    line = text.splitlines()[found.span.line - 1]
    assert line[found.span.column - 1 : found.span.end_column - 1] == "{proposl.id}"


@pytest.mark.parametrize(
    ("text", "pieces"),
    [
        ("plain", ["plain"]),
        ("{a}", [("a",)]),
        ("x {a.b} y", ["x ", ("a", "b"), " y"]),
        ("{{a}} {b}", ["{a} ", ("b",)]),
        ("}}{{", ["}{"]),
        ("日本語{prior.id}です", ["日本語", ("prior", "id"), "です"]),
    ],
)
def test_split_template(text: str, pieces: list[object]) -> None:
    parts, problems = split_template(text)
    assert problems == []
    assert [p if isinstance(p, str) else p.path for p in parts] == pieces


def test_placeholders_use_parameters() -> None:
    found = diagnose(
        "proposal.impact.retroactive", message="{window}", head="param window = 3 days"
    )
    assert found == []


# --- warnings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("when", "warned"),
    [
        ("true", "true"),
        ("proposal.impact.retroactive and 1 == 1", "1 == 1"),
        ('proposal.impact.retroactive or "a" == "b"', '"a" == "b"'),
        ("proposal.impact.retroactive and not false", "not false"),
        ("any(e in proposal.rationale.evidence: true)", "true"),
        ("proposal.impact.retroactive and (1 < 2 and 2 < 3)", "1 < 2 and 2 < 3"),
    ],
)
def test_constant_conditions_are_warned(when: str, warned: str) -> None:
    found = diagnose(when)
    assert [d.code for d in found] == ["W003"]
    assert found[0].level is Level.warning
    assert f"`{warned}`" in found[0].message


@pytest.mark.parametrize(
    "when",
    [
        "proposal.impact.retroactive == true",
        "proposal.impact.retroactive",
        "days(proposal.proposed_on, proposal.effective_on) > 3 days",
    ],
)
def test_conditions_that_read_the_proposal_are_not_warned(when: str) -> None:
    assert diagnose(when) == []


def test_unused_parameters_and_definitions_are_warned() -> None:
    head = "param unused_window = 3 days\ndefine unused_flag = proposal.impact.retroactive"
    found = diagnose("proposal.impact.retroactive", head=head)
    assert [(d.code, d.level) for d in found] == [("W001", Level.warning), ("W002", Level.warning)]


def test_missing_language_is_warned_per_rule() -> None:
    other = (
        "  rule other {\n    kind note\n    when proposal.impact.retroactive\n    severity low\n"
        '    message en "m"\n    message ja "メッセージ"\n    remedy en "r"\n  }\n'
    )
    found = diagnose("proposal.impact.retroactive", extra_rules=other)
    # a language any rule has is expected of every message and remedy
    assert [d.message for d in found] == [
        "rule `probe` has no `message ja`, which other rules have",
        "rule `probe` has no `remedy ja`, which other rules have",
        "rule `other` has no `remedy ja`, which other rules have",
    ]
    assert all(d.level is Level.warning for d in found)


def test_a_pack_with_only_warnings_loads_and_keeps_them() -> None:
    pack, diagnostics = _pack(
        {"t.bcm": _rule_file("proposal.impact.retroactive", head="param x = 1")}
    )
    assert pack is not None
    assert [d.code for d in pack.warnings] == ["W001"] == [d.code for d in diagnostics]


# --- the pack as a whole ----------------------------------------------------------------------


def _expressions(node: ast.Expr) -> list[ast.Expr]:
    out = [node]
    for child in children(node):
        out.extend(_expressions(child))
    return out


def test_every_expression_node_has_a_type() -> None:
    folder = Path(__file__).parent / "packs" / "sample"
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.bcm"))}
    pack, diagnostics = _pack(texts)
    assert pack is not None, diagnostics
    roots: list[ast.Expr] = [d.expr for d in pack.defines.values()]
    for info in pack.rules:
        rule = info.rule
        for let in rule.lets:
            roots.append(let.value.condition if isinstance(let.value, ast.Query) else let.value)
        roots.extend(c for _, c in rule.severity.options if c is not None)  # type: ignore[union-attr]
        roots.append(rule.when)  # type: ignore[arg-type]
    nodes = [n for root in roots for n in _expressions(root)]
    assert len(nodes) > 100
    assert [n for n in nodes if id(n) not in pack.types] == []


def test_all_problems_are_reported_sorted() -> None:
    text = _rule_file(
        'proposal.legal_bases is empty and proposal.direction == "expnad"',
        message="{nope}",
    ).replace("kind conflict", "kind conflcit")
    _, diagnostics = _pack({"t.bcm": text})
    assert [d.code for d in diagnostics] == ["E106", "E301", "E402", "E501"]
    assert diagnostics == sorted(diagnostics, key=lambda d: d.sort_key())


@pytest.mark.parametrize(
    ("overrides", "code", "help_text"),
    [
        (
            {"JP": {"windw": ast.Number(Decimal(3), "days")}},
            "P006",
            "`window`",
        ),
        ({"JP": {"window": ast.Number(Decimal(3))}}, "P007", '"365 days"'),
        ({"JP": {"margin": ast.Number(Decimal(3), "days")}}, "P007", "90%"),
    ],
)
def test_manifest_overrides_name_parameters_with_their_unit(
    overrides: dict[str, dict[str, ast.Number]], code: str, help_text: str
) -> None:
    manifest = Manifest(name="t", version="1", overrides=overrides)
    text = _rule_file("proposal.impact.transition_days < window and margin > 1%", head=HEAD)
    _, diagnostics = _pack({"t.bcm": text}, manifest)
    found = [d for d in diagnostics if d.is_error]
    assert [d.code for d in found] == [code]
    assert help_text in (found[0].help or "")


def test_the_language_reference_example_checks() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "language.md").read_text(encoding="utf-8")
    example = re.search(r"## Principles and rules\n\n```\n(.*?)```", doc, re.S)
    assert example is not None
    pack, diagnostics = _pack({"example.bcm": example.group(1)})
    assert [d for d in diagnostics if d.is_error] == []
    assert pack is not None and pack.rules[0].id == "unprincipled_reversal"
