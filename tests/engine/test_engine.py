"""The engine as its callers see it: histories kept resident and grown, checks that leave no
trace, thread safety, refusals that hand the check to the reference evaluator."""

from __future__ import annotations

import dataclasses
import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import durable_rules_engine
import pytest

from checker.compiler import compile_pack
from checker.engine import Engine, EngineError, UnknownHistory
from checker.lang.checked import CheckedPack
from checker.lang.pack import load_checked_pack
from checker.reference import Evaluator, HistoryIndex

from . import pack_from_text, policy

ROOT = Path(__file__).resolve().parents[2]

RULES = """principle normative_coherence {
  title en "t"
  param reversal_window = 1461 days
  param busy = 2

  rule reversal {
    kind reversal
    let prior = latest h in history
                where h.scope == proposal.scope and h.status == "enacted"
                  and h.direction != "neutral"
    let gap = days(prior.effective_on, proposal.effective_on)
    when prior.direction != proposal.direction and proposal.direction != "neutral"
     and gap <= reversal_window
    severity high if proposal.context.announced_in_campaign
        else medium if proposal.magnitude == "major" else low
    message en "Reverses {prior.id}."
    remedy en "r"
  }

  rule busy_scope {
    kind note
    let n = count h in history where h.scope == proposal.scope
    when n >= busy
    severity low
    message en "m"
    remedy en "r"
  }

  rule exit_first {
    kind note
    let first = earliest h in history where h.area == "exit"
    when first.direction == proposal.direction
    severity low
    message en "m"
    remedy en "r"
  }
}
"""


@pytest.fixture
def pack(tmp_path: Path) -> CheckedPack:
    return pack_from_text(RULES, tmp_path / "pack")


@pytest.fixture
def engine(pack: CheckedPack) -> Engine:
    return Engine(pack, compile_pack(pack))


def run(engine: Engine, proposal: dict[str, Any], key: str | None, **params: Any) -> list[Any]:
    values = Evaluator(engine.pack).params({k: Decimal(v) for k, v in params.items()})
    return [
        (f.rule.id, f.severity, f.env.lets.get("prior", {}).get("id"))
        for f in engine.check(proposal, key, values)
    ]


HISTORY = [
    policy("A", "2015-04-01", "restrict"),
    policy("B", "2017-04-01", "expand"),
    policy("C", "2018-04-01", "restrict", status="withdrawn"),
    policy("D", "2016-01-01", "expand", area="exit"),
]


def test_a_check_against_a_resident_history(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    proposal = policy("P", "2019-04-01", "restrict", status="proposed")
    assert run(engine, proposal, "h") == [("reversal", "low", "B"), ("busy_scope", "low", None)]


def test_severity_is_the_first_level_whose_condition_holds(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    pledged = policy(
        "P", "2019-04-01", "restrict", magnitude="major", context={"announced_in_campaign": True}
    )
    major = policy("Q", "2019-04-01", "restrict", magnitude="major")
    assert run(engine, pledged, "h")[0] == ("reversal", "high", "B")
    assert run(engine, major, "h")[0] == ("reversal", "medium", "B")


def test_only_records_strictly_before_the_proposal_count(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    same_day = policy("P", "2017-04-01", "restrict")
    assert run(engine, same_day, "h") == []  # B is not before, A is 2 years back but counts 1
    assert run(engine, policy("Q", "2017-04-02", "restrict"), "h")[0] == ("reversal", "low", "B")


def test_parameters_change_per_check(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    proposal = policy("P", "2019-04-01", "restrict")
    assert run(engine, proposal, "h", reversal_window=365) == [("busy_scope", "low", None)]
    assert run(engine, proposal, "h", busy=3)[0] == ("reversal", "low", "B")


def test_without_history_no_query_finds_anything(engine: Engine) -> None:
    assert run(engine, policy("P", "2019-04-01", "restrict"), None) == []


def test_an_unknown_history_is_refused(engine: Engine) -> None:
    with pytest.raises(EngineError, match="unknown history"):
        run(engine, policy("P", "2019-04-01"), "nope")


def test_added_records_are_asserted_alone(engine: Engine) -> None:
    """Appending asserts the new record and re-asserts only the records whose neighbours in
    date order changed (the previous last one), not the whole history."""
    records = [
        policy(f"R{n:02d}", f"{1970 + n}-04-01", ("expand", "restrict")[n % 2]) for n in range(50)
    ]
    engine.set_history("h", records)
    asserted: list[int] = []
    real = engine._assert

    def spy(ruleset: str, text: str) -> bool:
        fact = json.loads(text)
        if "_rid" in fact:
            asserted.append(fact["_rid"])
        return real(ruleset, text)

    engine._assert = spy  # type: ignore[method-assign]
    proposal = policy("P", "2022-04-01", "restrict")
    assert run(engine, proposal, "h") == [("busy_scope", "low", None)]  # R49 restricted too
    engine.add_history("h", [policy("R50", "2021-04-01", "expand")])
    assert set(asserted) == {49, 50}
    assert run(engine, proposal, "h") == [("reversal", "low", "R50"), ("busy_scope", "low", None)]


def test_set_history_replaces_a_history(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    engine.set_history("h", HISTORY[:1])
    assert run(engine, policy("P", "2019-04-01", "expand"), "h") == [("reversal", "low", "A")]


def test_histories_are_kept_apart_by_key(engine: Engine) -> None:
    engine.set_history("one", HISTORY[:1])
    engine.set_history("two", HISTORY[:2])
    proposal = policy("P", "2019-04-01", "restrict")
    assert run(engine, proposal, "one") == []
    assert run(engine, proposal, "two")[0] == ("reversal", "low", "B")
    engine.drop_history("two")
    with pytest.raises(EngineError):
        run(engine, proposal, "two")


def test_a_check_leaves_no_fact_behind(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    for n in range(50):
        run(engine, policy(f"P{n}", "2019-04-01", ("restrict", "expand")[n % 2]), "h")
    for ruleset in engine.plan.join_rulesets:
        for resident in engine._residency[ruleset.name].live.values():
            facts = json.loads(
                durable_rules_engine.get_facts(engine._handles[ruleset.name], resident.sid)
            )
            assert facts and all(f["_t"] != "p" for f in facts)
    for ruleset in engine.plan.rule_rulesets:
        assert json.loads(durable_rules_engine.get_facts(engine._handles[ruleset.name], "0")) == []


def test_checks_from_several_threads_agree_with_one(pack: CheckedPack, engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    proposals = [
        policy(f"P{n}", f"201{5 + n % 5}-0{1 + n % 9}-01", ("restrict", "expand", "neutral")[n % 3])
        for n in range(40)
    ]
    serial = [run(engine, p, "h") for p in proposals]
    results: dict[int, list[Any]] = {}

    def work(offset: int) -> None:
        for n in range(offset, len(proposals), 4):
            results[n] = run(engine, proposals[n], "h")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [results[n] for n in range(len(proposals))] == serial


def test_a_parameter_that_is_not_whole_is_refused(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    with pytest.raises(EngineError, match="reversal_window"):
        run(engine, policy("P", "2019-04-01", "restrict"), "h", reversal_window=Decimal("365.5"))


def test_an_unsafe_plan_is_refused(pack: CheckedPack) -> None:
    plan = compile_pack(pack)
    join = plan.join_rulesets[0]
    rules = dict(join.rules)
    del rules["_probe"]
    unsafe = dataclasses.replace(plan, join_rulesets=(dataclasses.replace(join, rules=rules),))
    with pytest.raises(EngineError, match="no probe rule"):
        Engine(pack, unsafe)


def test_after_an_engine_failure_a_fresh_host_answers(engine: Engine) -> None:
    engine.set_history("h", HISTORY)
    proposal = policy("P", "2019-04-01", "restrict")
    expected = run(engine, proposal, "h")
    real = engine._assert
    calls = [0]

    def failing(ruleset: str, text: str) -> bool:
        calls[0] += 1
        if calls[0] == 1:
            raise durable_rules_engine.error("Could not assert fact, error code: 312")
        return real(ruleset, text)

    engine._assert = failing  # type: ignore[method-assign]
    with pytest.raises(EngineError, match="engine failure"):
        run(engine, proposal, "h")
    engine._assert = real  # type: ignore[method-assign]
    assert run(engine, proposal, "h") == expected


def test_a_history_record_the_engine_cannot_hold_leaves_the_history_as_it_was(
    engine: Engine,
) -> None:
    engine.set_history("h", HISTORY[:2])
    # a join term reads the scope: a record without one cannot enter a join
    broken = {**HISTORY[2], "id": "X", "jurisdiction": None}
    with pytest.raises(EngineError):
        engine.add_history("h", [HISTORY[2], broken])
    assert run(engine, policy("P", "2019-04-01", "restrict"), "h")[0] == ("reversal", "low", "B")


def test_the_default_pack_on_the_examples() -> None:
    """The default pack and the real history of examples/jp: as the reference says."""
    pack = load_checked_pack(str(ROOT / "rules"))
    engine = Engine(pack, compile_pack(pack))
    evaluator = Evaluator(pack)
    from checker.documents import PolicyChange
    from checker.semantics import to_fact

    records = []
    for line in (ROOT / "examples" / "jp" / "history.jsonl").read_text("utf-8").splitlines():
        if line.strip():
            records.append(to_fact(PolicyChange.model_validate_json(line)))
    engine.set_history("jp", records)
    index = HistoryIndex(records)
    params = evaluator.params(None, "JP")
    proposals = sorted((ROOT / "examples" / "jp" / "proposals").glob("*.json"))
    assert proposals
    for path in proposals:
        data = json.loads(path.read_text("utf-8"))
        for item in data if isinstance(data, list) else [data]:
            proposal = to_fact(PolicyChange.model_validate(item))
            got = [(f.rule.id, f.severity) for f in engine.check(proposal, "jp", params)]
            want = [(f.rule.id, f.severity) for f in evaluator.check(proposal, index, params)]
            assert got == want, path.name


def test_the_least_recently_used_history_is_let_go(pack: CheckedPack) -> None:
    engine = Engine(pack, compile_pack(pack), max_histories=2)
    for key in ("one", "two", "three"):
        engine.set_history(key, HISTORY)
    assert engine.held("one") is None
    assert engine.held("three") == len(HISTORY)
    with pytest.raises(UnknownHistory):
        run(engine, policy("P", "2019-04-01", "restrict"), "one")
    run(engine, policy("P", "2019-04-01", "restrict"), "two")  # now the most recent
    engine.set_history("four", HISTORY)
    assert (engine.held("two"), engine.held("three")) == (len(HISTORY), None)


def test_a_closed_engine_refuses_checks(pack: CheckedPack) -> None:
    engine = Engine(pack, compile_pack(pack))
    engine.set_history("h", HISTORY)
    engine.close()
    engine.close()  # a second close is harmless
    with pytest.raises(EngineError, match="closed"):
        run(engine, policy("P", "2019-04-01"), "h")
