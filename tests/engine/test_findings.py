"""Findings as a reader sees them: texts in their language, evidence, related records, source."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from checker.documents import Finding
from checker.findings import evidence_paths, make_finding
from checker.lang.check import split_template
from checker.lang.checked import CheckedPack
from checker.lang.pack import load_checked_pack
from checker.lang.parse import parse
from checker.reference import Evaluator, HistoryIndex
from checker.semantics import placeholders

from . import pack_from_text, policy

D = Decimal

RULES = """
principle normative_coherence {
  title en "Normative coherence"
  title ja "規範的一貫性"

  param reversal_window = 1461 days
  param material_change = 10%

  define pledged = proposal.context.announced_in_campaign

  rule unprincipled_reversal {
    kind reversal
    let first = earliest h in history where h.scope == proposal.scope
    let prior = latest h in history where h.scope == proposal.scope and h.status == "enacted"
    let steps = sequence h in history where h.scope == proposal.scope
    let n = count h in history where h.scope == proposal.scope
    let gap = days(prior.effective_on, proposal.effective_on)
    when prior.direction != proposal.direction and (gap <= reversal_window or pledged)
     and not any(e in proposal.rationale.evidence: moved(e.value, e.previous, material_change))
    severity medium
    message en "Reverses {prior.id} of {prior.effective_on}, {gap} later; {n} changes of {proposal.scope} before; inflow {proposal.impact.expected_inflow}; transition {proposal.impact.transition_days}; pledged: {pledged}."
    message ja "{prior.id}（{prior.effective_on}施行）を{gap}後に覆しています。公約：{pledged}、受入れ見込み：{proposal.impact.expected_inflow}人。"
    remedy en "Cite an indicator that moved by {material_change} or more since {prior.effective_on}; {{braces}} stay."
  }
}
"""  # noqa: E501 (rule texts are one line each, as authors write them)


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> CheckedPack:
    return pack_from_text(RULES, tmp_path_factory.mktemp("findings") / "rules")


HISTORY = [
    policy("JP-2015", "2015-04-01", "restrict"),
    policy("JP-2019-B", "2019-04-01", "expand"),
    policy("JP-2019-A", "2019-04-01", "expand", status="withdrawn"),
    policy("JP-2018-OTHER", "2018-04-01", "expand", target="students"),
]


def finding(pack: CheckedPack, lang: str, **fields: Any) -> Finding:
    evaluator = Evaluator(pack)
    doc = policy("P", "2021-04-01", "restrict", status="proposed", **fields)
    (fired,) = evaluator.check(doc, HistoryIndex(HISTORY), evaluator.params())
    return make_finding(pack, fired.rule, fired.severity, fired.env, evaluator, lang)


def test_message_and_remedy_in_english(pack: CheckedPack) -> None:
    f = finding(pack, "en", impact={"expected_inflow": 69000})
    assert f.message == (
        "Reverses JP-2019-B of 2019-04-01, 731 days later; 3 changes of JP/entry_stay/trainees "
        "before; inflow 69,000; transition —; pledged: no."
    )
    assert (
        f.remedy == "Cite an indicator that moved by 10% or more since 2019-04-01; {braces} stay."
    )


def test_message_in_japanese_and_remedy_falling_back_to_english(pack: CheckedPack) -> None:
    f = finding(
        pack, "ja", impact={"expected_inflow": 69000}, context={"announced_in_campaign": True}
    )
    assert f.message == (
        "JP-2019-B（2019年4月1日施行）を731日後に覆しています。公約：はい、受入れ見込み：69,000人。"
    )
    # The rule has no Japanese remedy: the English one, with values written the English way.
    assert (
        f.remedy == "Cite an indicator that moved by 10% or more since 2019-04-01; {braces} stay."
    )


def test_a_language_the_rule_does_not_have_reads_english(pack: CheckedPack) -> None:
    assert finding(pack, "fr").message == finding(pack, "en").message


def test_the_finding_names_its_rule_and_source(pack: CheckedPack) -> None:
    f = finding(pack, "en")
    assert (f.kind.value, f.principle.value, f.rule, f.severity.value) == (
        "reversal",
        "normative_coherence",
        "unprincipled_reversal",
        "medium",
    )
    assert f.source == pack.rule("unprincipled_reversal").source
    assert f.source == "rules/rules.bcm:11:3"


def test_evidence_holds_every_value_the_condition_read(pack: CheckedPack) -> None:
    item = {"indicator": "ratio", "value": D("1.40"), "previous": D("1.36")}
    f = finding(pack, "en", rationale={"evidence": [item]})
    assert f.evidence == {
        "gap": 731,
        "material_change": 0.1,
        "pledged": False,
        "prior.direction": "expand",
        "proposal.direction": "restrict",
        "proposal.rationale.evidence": [
            {
                "as_of": None,
                "indicator": "ratio",
                "previous": 1.36,
                "source": None,
                "unit": None,
                "value": 1.4,
            }
        ],
        "reversal_window": 1461,
    }
    assert list(f.evidence) == sorted(f.evidence)
    json.dumps(f.model_dump(mode="json"))  # every value is JSON as it stands


def test_related_records_in_let_order_without_repeats(pack: CheckedPack) -> None:
    # earliest (JP-2015), latest (JP-2019-B), then the sequence, which repeats both; the count
    # binds no record.
    assert finding(pack, "en").related == ["JP-2015", "JP-2019-B", "JP-2019-A"]


def test_evidence_paths_leave_out_quantifier_variables() -> None:
    expr = (
        parse(
            "define x = any(e in proposal.rationale.evidence: e.value > limit "
            "and all(s in e.sources: s != e.indicator)) and e.value > 1 and prior.id is null"
        )
        .defines[0]
        .expr
    )
    assert [p.dotted for p in evidence_paths(expr)] == [
        "e.value",  # outside the quantifier, `e` is a name like any other
        "limit",
        "prior.id",
        "proposal.rationale.evidence",
    ]


# The checker accepts templates with its scanner; findings fill them with semantics'. Both must
# see the same placeholders in every text of the default pack.


def test_the_checker_and_the_findings_split_templates_alike() -> None:
    default_pack = load_checked_pack(str(Path(__file__).parents[2] / "rules"))
    templates = [
        text.text
        for info in default_pack.rules
        for text in (*info.rule.messages, *info.rule.remedies)
    ]
    assert len(templates) > 20
    for template in [*templates, "{{a}} {b.c} }} {{", "{{{x}}}", "{a}}}"]:
        parts, problems = split_template(template)
        assert not problems, template
        theirs = [(p.dotted, p.start, p.end) for p in parts if not isinstance(p, str)]
        ours = [(p.name, p.start, p.end) for p in placeholders(template)]
        assert ours == theirs, template
