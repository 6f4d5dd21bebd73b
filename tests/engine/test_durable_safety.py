"""One regression per repro of `shared/durable-evidence/`: each shows that our engine stays
clear of a crash or a wrong answer durable-rules 2.0.28 is known for.

| evidence                         | what our engine does                                     |
|----------------------------------|----------------------------------------------------------|
| e10, durable_crash_repro         | every join ends with an always-true sentinel term        |
| e12 (sid/id in conditions)       | record fields are `r.<name>`: `id` and `sid` never tested |
| e14 (delete_state, no action)    | a probe action runs in every state before it is deleted  |
| e07 (32-bit id hashes)           | fact ids and sids are its own, checked for collisions    |
| e22 (> 64 matching alpha nodes)  | rulesets split below the alpha walk's 64 slots           |
| e06 (> 512 tests hang)           | rulesets split below 512 tests; wider rules lowered      |
| e21 (action arity)               | actions are closures of exactly one parameter            |
| e13 (groups in joins)            | one `$or` group, last before the sentinel; else Python   |
| integer `$div`, lone `$nex`      | never emitted                                            |
| 1,024 sids per ruleset           | a bounded pool of resident sids, least recently used out |
| timer threads of the stock Host  | a host whose timers never start                          |
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import durable_rules_engine
import pytest

from checker.compiler import SENTINEL, check_plan_safety, compile_pack, fnv1a32, rule_patterns
from checker.engine import Engine, EngineError
from checker.lang.checked import CheckedPack
from checker.reference import Evaluator, HistoryIndex

from . import pack_from_text, policy

ROOT = Path(__file__).resolve().parents[2]
HEAD = 'principle legal_integrity {\n  title en "t"\n  param window = 1461 days\n'


def rule(name: str, when: str, lets: str = "", severity: str = "medium") -> str:
    return (
        f"  rule {name} {{\n    kind conflict\n    {lets}\n    when {when}\n"
        f'    severity {severity}\n    message en "m"\n    remedy en "r"\n  }}\n'
    )


def pack_of(tmp_path: Path, *rules: str) -> CheckedPack:
    return pack_from_text(HEAD + "".join(rules) + "}\n", tmp_path / "pack")


def fired(engine: Engine, proposal: dict[str, Any], key: str | None = None) -> list[str]:
    params = Evaluator(engine.pack).params()
    return [f.rule.id for f in engine.check(proposal, key, params)]


def expected(pack: CheckedPack, proposal: dict[str, Any], records: list[Any]) -> list[str]:
    evaluator = Evaluator(pack)
    return [f.rule.id for f in evaluator.check(proposal, HistoryIndex(records), evaluator.params())]


REVERSAL = """let prior = latest h in history
      where h.scope == proposal.scope and h.status == "enacted"
        and h.direction != proposal.direction"""

# the single-document rules of durable_crash_repro.py, as far as the language has them
SINGLE_DOCUMENT = [
    'proposal.direction == "expand" and proposal.impact.expected_inflow > 10000',
    "proposal.impact.expected_inflow > proposal.impact.integration_capacity",
    "proposal.impact.affects_current_residents and proposal.impact.transition_days < 180",
    'proposal.magnitude == "major" and proposal.instrument == "guideline"',
    'proposal.area != "border_control" and proposal.area != "entry_stay"'
    ' and proposal.area != "integration" and proposal.area != "exit"',
    'proposal.direction == "restrict" and proposal.impact.retroactive',
    "proposal.context.announced_in_campaign",
    'proposal.rationale.trigger == "electoral_pledge"',
    'proposal.magnitude == "minor" and proposal.impact.expected_inflow >= 10000',
    'proposal.direction == "restrict" and proposal.impact.transition_days == 0',
    'proposal.status == "proposed"',
    'proposal.instrument in ["cabinet_order", "ministerial_ordinance"]',
    "proposal.impact.expected_inflow > 2 * proposal.impact.integration_capacity",
    'proposal.target == "students"',
    'proposal.jurisdiction != "JP"',
    "proposal.proposed_on is null",
    "proposal.impact.integration_capacity is null",
    'proposal.direction == "neutral" and proposal.magnitude == "major"',
    "proposal.effective_on < 2019-01-01",
    'proposal.rationale.trigger != "evidence"',
]


def test_a_join_whose_last_term_fails_does_not_crash(tmp_path: Path) -> None:
    """e10 / durable_crash_repro: the join's last real term (`direction`) fails for most
    records; the sentinel after it keeps the engine inside its expression array."""
    rules = [rule(f"r{n:02d}", when) for n, when in enumerate(SINGLE_DOCUMENT)]
    rules.append(rule("reversal", 'prior.magnitude != "major"', lets=REVERSAL))
    pack = pack_of(tmp_path, *rules)
    plan = compile_pack(pack)
    for ruleset in plan.join_rulesets:
        for name, definition in ruleset.rules.items():
            if name != "_probe":
                assert rule_patterns(definition)[1]["$and"][-1] == dict(SENTINEL)
    engine = Engine(pack, plan)
    records = [
        policy(f"H{n}", f"20{10 + n % 9}-0{1 + n % 9}-01", ("expand", "restrict")[n % 2])
        for n in range(100)
    ]
    engine.set_history("h", records)
    for n in range(60):
        proposal = policy(
            f"P{n}",
            f"2019-0{1 + n % 9}-15",
            ("expand", "restrict", "neutral")[n % 3],
            status="proposed",
            magnitude=("minor", "major")[n % 2],
            impact={"expected_inflow": 1000 * n, "integration_capacity": 20000},
        )
        assert fired(engine, proposal, "h") == expected(pack, proposal, records)


def test_no_condition_reads_sid_or_id(tmp_path: Path) -> None:
    """e12: conditions on `sid` or `id` read freed memory. Record fields, `id` included,
    are properties of their own."""
    lets = "let same = latest h in history where h.id == proposal.id"
    pack = pack_of(tmp_path, rule("named", 'proposal.id == "P1"'), rule("again", "true", lets))
    plan = compile_pack(pack)
    text = repr([rs.rules for rs in plan.rulesets])
    assert "'r.id'" in text
    assert "'id'" not in text and "'sid'" not in text
    engine = Engine(pack, plan)
    records = [policy("P1", "2018-01-01"), policy("P2", "2018-01-01")]
    engine.set_history("h", records)
    proposal = policy("P1", "2019-01-01")
    assert fired(engine, proposal, "h") == ["named", "again"] == expected(pack, proposal, records)


def test_hundreds_of_states_are_deleted_without_a_crash(tmp_path: Path) -> None:
    """e14: deleting a state in which no action ran frees uninitialised memory. With five
    resident sids and sixty scopes, 300 checks evict a state almost every time."""
    pack = pack_of(tmp_path, rule("reversal", "true", lets=REVERSAL))
    engine = Engine(pack, compile_pack(pack), max_resident=5)
    targets = [f"t{n}" for n in range(60)]
    records = [policy(f"H{n}", "2018-01-01", "expand", target=t) for n, t in enumerate(targets)]
    engine.set_history("h", records)
    for n in range(300):
        proposal = policy(f"P{n}", "2019-01-01", "restrict", target=targets[(n * 7) % 60])
        assert fired(engine, proposal, "h") == ["reversal"]
    assert len(engine._residency["bcm-join-0-0"].live) == 5


def test_colliding_ids_are_told_apart(tmp_path: Path) -> None:
    """e07: durable takes two facts whose ids share a 32-bit FNV-1a hash for one. Our fact ids
    are our own, checked against the hashes already in the sid; documents' ids are data."""
    a, b = "h-229599", "h-432382"
    assert fnv1a32(a) == fnv1a32(b)
    lets = "let n = count h in history where h.scope == proposal.scope"
    pack = pack_of(tmp_path, rule("two", "n == 2", lets))
    engine = Engine(pack, compile_pack(pack))
    records = [policy(a, "2018-01-01"), policy(b, "2018-01-01")]
    engine.set_history("h", records)
    assert fired(engine, policy("P", "2019-01-01"), "h") == ["two"]
    # the id generator skips an id whose hash is taken
    taken = {fnv1a32("p1")}
    engine._counter = 0
    fresh, h = engine._fresh_id("p", taken)
    assert fresh == "p2" and h not in taken


def test_more_than_64_matching_rules_all_fire(tmp_path: Path) -> None:
    """e22: one fact matching more than 64 alpha tests under a node makes durable fire
    nothing (error 303). Seventy rules matching one proposal are split across rulesets."""
    rules = [rule(f"r{n}", f"proposal.impact.expected_inflow > {n}") for n in range(70)]
    pack = pack_of(tmp_path, *rules)
    plan = compile_pack(pack)
    assert check_plan_safety(plan) == []
    assert len(plan.rule_rulesets) > 2
    engine = Engine(pack, plan)
    proposal = policy("P", "2019-01-01", impact={"expected_inflow": 100})
    assert fired(engine, proposal) == [f"r{n}" for n in range(70)]


def test_more_than_512_tests_do_not_hang(tmp_path: Path) -> None:
    """e06: past 512 distinct tests under one node, create_ruleset hangs holding the GIL, so
    the check runs in a child process with a time limit."""
    rules = "".join(rule(f"r{n}", f"proposal.impact.expected_inflow == {n}") for n in range(530))
    wide = ", ".join(f'"t{n}"' for n in range(600))
    rules += rule("wide", f"proposal.target in [{wide}]")
    folder = tmp_path / "pack"
    pack_from_text(HEAD + rules + "}\n", folder)
    script = textwrap.dedent(
        f"""
        from checker.compiler import compile_pack
        from checker.engine import Engine
        from checker.lang.pack import load_checked_pack
        from checker.reference import Evaluator
        from tests.engine import policy
        pack = load_checked_pack({str(folder)!r})
        engine = Engine(pack, compile_pack(pack))
        proposal = policy("P", "2019-01-01", target="t599", impact={{"expected_inflow": 529}})
        params = Evaluator(pack).params()
        print(" ".join(f.rule.id for f in engine.check(proposal, None, params)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["r529", "wide"]


def test_actions_take_exactly_one_parameter(tmp_path: Path) -> None:
    """e21: an action with a second parameter, even a defaulted one, is taken for an
    asynchronous action and silently stops the rules after it."""
    pack = pack_of(tmp_path, rule("a", 'proposal.direction == "expand"'), rule("b", "true"))
    engine = Engine(pack, compile_pack(pack))
    for actions in engine._dispatch.values():
        for action in actions.values():
            assert len(inspect.signature(action).parameters) == 1
    assert fired(engine, policy("P", "2019-01-01", "expand")) == ["a", "b"]


@pytest.mark.parametrize("hx", [0, 1])
@pytest.mark.parametrize("hy", [0, 1])
@pytest.mark.parametrize("hz", [0, 1])
def test_a_group_in_a_join_keeps_the_terms_around_it(
    tmp_path: Path, hx: int, hy: int, hz: int
) -> None:
    """e13: a nested `$or` inside a join drops the join terms after it. The group goes last;
    a second group is tested in Python."""
    lets = """let match = latest h in history
      where (h.direction == proposal.direction or h.magnitude == proposal.magnitude)
        and h.instrument == proposal.instrument
        and (h.target == proposal.target or h.area == proposal.area)"""
    pack = pack_of(tmp_path, rule("joined", "true", lets))
    plan = compile_pack(pack)
    terms = rule_patterns(plan.join_rulesets[0].rules["join0"])[1]["$and"]
    assert "$or" in terms[-2] and all("$or" not in t for t in terms[:-2])
    assert len(plan.joins[0].residue) == 1
    engine = Engine(pack, plan)
    record = policy(
        "H",
        "2018-01-01",
        ("restrict", "expand")[hx],
        magnitude=("major", "minor")[hy],
        instrument=("guideline", "act")[hz],
    )
    engine.set_history("h", [record])
    proposal = policy("P", "2019-01-01", "expand", magnitude="minor", instrument="act")
    assert fired(engine, proposal, "h") == expected(pack, proposal, [record])
    assert fired(engine, proposal, "h") == (["joined"] if (hx or hy) and hz else [])


def test_no_integer_division_and_no_test_for_a_missing_field(tmp_path: Path) -> None:
    """Integer `$div` by zero kills the process; a lone `$nex` spins. Neither is emitted."""
    pack = pack_of(
        tmp_path,
        rule("half", "proposal.impact.expected_inflow / 0 == null"),
        rule("absent", "proposal.proposed_on is null"),
    )
    plan = compile_pack(pack)
    text = repr([rs.rules for rs in plan.rulesets])
    assert "$div" not in text and "$nex" not in text
    engine = Engine(pack, plan)
    proposal = policy("P", "2019-01-01", impact={"expected_inflow": 5})
    assert fired(engine, proposal) == ["half", "absent"] == expected(pack, proposal, [])


def test_resident_sids_stay_below_the_engine_limit(tmp_path: Path) -> None:
    """Past 1,024 live sids a ruleset raises MemoryError: residents are bounded."""
    pack = pack_of(tmp_path, rule("reversal", "true", lets=REVERSAL))
    with pytest.raises(ValueError):
        Engine(pack, compile_pack(pack), max_resident=1024)
    engine = Engine(pack, compile_pack(pack))
    targets = [f"t{n}" for n in range(1100)]
    records = [policy(f"H{n}", "2018-01-01", "expand", target=t) for n, t in enumerate(targets)]
    engine.set_history("h", records)
    for n in range(0, 1100, 50):
        proposal = policy(f"P{n}", "2019-01-01", "restrict", target=targets[n])
        assert fired(engine, proposal, "h") == ["reversal"]
    assert len(engine._residency["bcm-join-0-0"].live) == 1000


def test_the_host_starts_no_timer_threads(tmp_path: Path) -> None:
    before = threading.active_count()
    pack = pack_of(tmp_path, rule("a", "true"))
    engine = Engine(pack, compile_pack(pack))
    fired(engine, policy("P", "2019-01-01"))
    assert threading.active_count() == before


def test_numbers_beyond_the_engine_range_are_refused(tmp_path: Path) -> None:
    """Facts carry 64-bit integers: a bigger number would compare wrong, so the engine
    refuses the check and the reference evaluator answers."""
    pack = pack_of(tmp_path, rule("big", "proposal.impact.expected_inflow > 5"))
    engine = Engine(pack, compile_pack(pack))
    proposal = policy("P", "2019-01-01", impact={"expected_inflow": 10**20})
    with pytest.raises(EngineError, match="cannot enter the engine"):
        fired(engine, proposal)


def test_texts_beyond_the_engine_string_length_compare_right(tmp_path: Path) -> None:
    """durable compares strings over an unsigned short length: a 70,000-character target
    that starts with "students" would equal "students". Long texts go in as digests."""
    pack = pack_of(tmp_path, rule("students", 'proposal.target == "students"'))
    engine = Engine(pack, compile_pack(pack))
    long = policy("P", "2019-01-01", target="students" + "x" * 65536)
    assert fired(engine, long) == [] == expected(pack, long, [])
    assert fired(engine, policy("Q", "2019-01-01", target="students")) == ["students"]


def test_a_proposal_matching_no_pattern_is_not_stored(tmp_path: Path) -> None:
    """A fact that matches nothing is refused by durable: the check still answers."""
    pack = pack_of(tmp_path, rule("a", 'proposal.direction == "expand"'))
    engine = Engine(pack, compile_pack(pack))
    assert fired(engine, policy("P", "2019-01-01", "restrict")) == []
    handle = engine._handles["bcm-rules-0"]
    assert durable_rules_engine.get_facts(handle, "0") in ("[]", None, "")


def reversal_engine(tmp_path: Path) -> tuple[CheckedPack, Engine, list[dict[str, Any]]]:
    """An engine of one reversal rule holding 20 records of alternating direction, as "h"."""
    pack = pack_of(tmp_path, rule("reversal", "true", lets=REVERSAL))
    engine = Engine(pack, compile_pack(pack))
    records = [
        policy(f"H{n}", f"{2000 + n}-01-01", ("expand", "restrict")[n % 2]) for n in range(20)
    ]
    engine.set_history("h", records)
    return pack, engine, records


def test_join_frames_kept_by_durable_are_given_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """durable keeps about 165 bytes of every join frame it fires in a state until the state
    is deleted (RSS grew 20 MB per 100,000 checks). Past a budget of frames the busiest state
    is deleted, after its probe, and loaded again when next needed."""
    import checker.engine

    monkeypatch.setattr(checker.engine, "RECYCLE_FRAMES", 50)
    monkeypatch.setattr(checker.engine, "RECYCLE_FRAMES_PER_FACT", 0)
    pack, engine, records = reversal_engine(tmp_path)
    residency = engine._residency["bcm-join-0-0"]
    for n in range(200):
        proposal = policy(f"P{n}", f"{2001 + n % 20}-06-01", ("expand", "restrict")[n % 3 % 2])
        assert fired(engine, proposal, "h") == expected(pack, proposal, records)
        assert residency.frames <= 50


def test_a_large_partition_keeps_its_frames_longer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading a partition again costs in proportion to its records: a state is recycled only
    once it has fired RECYCLE_FRAMES_PER_FACT frames per fact it holds, so its frames stay
    bounded in proportion to it, and the answers stay the same."""
    import checker.engine

    monkeypatch.setattr(checker.engine, "RECYCLE_FRAMES", 50)
    monkeypatch.setattr(checker.engine, "RECYCLE_FRAMES_PER_FACT", 3)
    pack, engine, records = reversal_engine(tmp_path)
    residency = engine._residency["bcm-join-0-0"]
    evicted: list[int] = []
    evict = engine._evict

    def counting(name: str, owner: Any) -> None:
        state = residency.live[owner]
        evicted.append(state.frames)
        assert state.frames >= 3 * len(state.stored)  # not before its budget
        evict(name, owner)

    monkeypatch.setattr(engine, "_evict", counting)
    for n in range(400):
        proposal = policy(f"P{n}", f"{2001 + n % 20}-06-01", ("expand", "restrict")[n % 3 % 2])
        assert fired(engine, proposal, "h") == expected(pack, proposal, records)
        largest = max((len(r.stored) for r in residency.live.values()), default=0)
        assert residency.frames <= max(50, 3 * largest) + 10
    assert evicted  # and it was recycled
