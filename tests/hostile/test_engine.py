"""Hostile checks: big generated packs, many scopes, long histories, huge values.

- durable-rules and the reference evaluator give the same findings for generated packs with
  many rules per principle (more than one ruleset holds) over histories of hundreds to
  thousands of records in up to 1,500 scopes (more than the engine keeps resident);
- a check never raises on a value a document may hold, even through arithmetic that would
  overflow;
- memory does not grow over thousands of checks, with one history or a new one each time;
- a worker that hangs or dies is stopped at the pool's time limit, and the check is still
  answered, by the reference evaluator, marked.
"""

from __future__ import annotations

import copy
import datetime as dt
import gc
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from engine import pack_from_text
from engine.test_differential import (
    JURISDICTIONS,
    Scope,
    assert_same,
    condition,
    default_pack,
    proposals,
    random_policy,
    rule_text,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.api import History, load_pack
from checker.compiler import check_plan_safety, compile_pack
from checker.engine import Engine
from checker.reference import Evaluator, HistoryIndex
from checker.workers import FAULTS_ENV

from . import FUZZ, examples, within

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = json.loads((ROOT / "examples/jp/2019-specified-skilled-worker.json").read_text())
PRINCIPLES = ("normative_coherence", "legal_integrity", "human_dignity", "social_stability")


def rss_mb() -> float:
    """This process's resident memory now (not its peak)."""
    with open("/proc/self/statm") as stat:
        return int(stat.read().split()[1]) * 4096 / 2**20


# --- big generated packs over many scopes ---------------------------------------------------


@st.composite
def big_pack_texts(draw: st.DrawFn) -> str:
    """Many well-typed rules (the engine test's generator), spread over several principles."""
    declared = (
        f"  param window = {draw(st.sampled_from([0, 365, 1461]))} days\n"
        f"  param margin = {draw(st.sampled_from([10, 90]))}%\n"
        f"  param cap = {draw(st.sampled_from([0, 20000]))} persons\n"
        f"  param n = {draw(st.sampled_from([1, 3]))}\n"
    )
    units = {"window": "days", "margin": "%", "cap": "persons", "n": ""}
    defines = [
        f"  define d{k} = {draw(condition(Scope(('proposal',), units), 1))}" for k in range(3)
    ]
    scope = Scope(("proposal",), units, ("d0", "d1", "d2"))
    count = draw(st.integers(33, 45) if not FUZZ else st.integers(33, 90))
    principles: dict[str, list[str]] = {p: [] for p in PRINCIPLES}
    for n in range(count):
        # most rules in one principle: more than the 32 rules one ruleset may hold
        where = PRINCIPLES[0] if n < 34 else draw(st.sampled_from(PRINCIPLES))
        principles[where].append(draw(rule_text(n, scope)))
    parts = []
    for k, (name, rules) in enumerate(principles.items()):
        head = declared + "\n".join(defines) if k == 0 else ""
        parts.append(f'principle {name} {{\n  title en "t"\n{head}\n{"".join(rules)}\n}}\n')
    return "\n".join(parts)


def scoped(rng: random.Random, id: str, scopes: int) -> dict[str, Any]:
    """A record like the engine test's, in one of `scopes` targets."""
    record = random_policy(rng, id)
    record["target"] = f"対象{rng.randrange(scopes)}"
    record["jurisdiction"] = rng.choice(JURISDICTIONS)
    return record


_packs = iter(range(10**9))


@given(st.data())
@settings(
    max_examples=examples(2, 8),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_big_packs_over_many_scopes_agree_with_the_reference(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    text = data.draw(big_pack_texts(), label="pack")
    pack = pack_from_text(text, tmp_path_factory.mktemp(f"big{next(_packs)}"))
    plan = compile_pack(pack)
    assert check_plan_safety(plan) == []
    assert len(plan.rule_rulesets) > 1
    scopes = data.draw(st.sampled_from([3, 40, 1500]), label="scopes")
    size = data.draw(st.integers(100, examples(600, 1500)), label="records")
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    records = [scoped(rng, f"R{n:05d}", scopes) for n in range(size)]
    engine = Engine(pack, plan)
    evaluator = Evaluator(pack)
    index = HistoryIndex(records)
    try:
        with within(120 if FUZZ else 90, "one big pack's checks"):
            engine.set_history("h", records)
            for n in range(examples(15, 25)):
                proposal = data.draw(proposals(f"P{n}"), label="proposal")
                proposal["target"] = f"対象{rng.randrange(scopes)}"
                params = evaluator.params(None, None)
                assert_same(engine, evaluator, proposal, "h", index, params)
            more = [scoped(rng, f"X{n}", scopes) for n in range(20)]
            engine.add_history("h", more)
            index.add(more)
            proposal = data.draw(proposals("P-last"), label="last proposal")
            assert_same(engine, evaluator, proposal, "h", index, evaluator.params(None, None))
    finally:
        engine.close()


def test_the_default_pack_over_1500_scopes_agrees_with_the_reference() -> None:
    # More scopes than the engine keeps resident (1,024 sids): checks going round them all
    # make it let go of some and load them again.
    _, engine, evaluator = default_pack()
    rng = random.Random(20241127)
    records = [scoped(rng, f"R{n:05d}", 1500) for n in range(examples(3000, 10_000))]
    engine.set_history("scopes", records)
    index = HistoryIndex(records)
    try:
        with within(300, "checks round 1,500 scopes"):
            for n in range(examples(400, 4000)):
                proposal = {**records[rng.randrange(len(records))], "id": f"P{n}"}
                proposal["status"] = "proposed"
                params = evaluator.params(None, proposal["jurisdiction"])
                assert_same(engine, evaluator, proposal, "scopes", index, params)
    finally:
        engine.drop_history("scopes")


# --- values at the bounds -------------------------------------------------------------------

OVERFLOWING = """principle normative_coherence {
  title en "t"
  rule powers {
    kind note
    let p = proposal.impact.expected_inflow * proposal.impact.expected_inflow
      * proposal.impact.expected_inflow * proposal.impact.expected_inflow
    let q = proposal.impact.expected_inflow * 1.5 * 1.5 * proposal.impact.expected_inflow
    let r = change(proposal.impact.expected_inflow, proposal.impact.integration_capacity)
    when p is null or q is null or r > 0% or p > 0
    severity low
    message en "p {p}, q {q}, r {r}"
    remedy en "r"
  }
}
"""


@pytest.mark.parametrize(
    ("inflow", "capacity"),
    [(10**1000, 1), (-(10**1000), 10**1000), (10**999, -1), (10**250, 10**250), (7, 0)],
    ids=["10^1000", "-10^1000", "10^999 over -1", "10^250 squared", "small"],
)
def test_arithmetic_past_the_bound_is_null_never_an_exception(
    tmp_path: Path, inflow: int, capacity: int
) -> None:
    checked = pack_from_text(OVERFLOWING, tmp_path / "powers")
    proposal = copy.deepcopy(EXAMPLE)
    proposal["impact"].update(expected_inflow=inflow, integration_capacity=capacity)
    with within(10, "a check at the bound"), load_pack(checked.root) as pack:
        report = pack.check(proposal)
        data = json.dumps(report.to_dict(), ensure_ascii=False)
    (finding,) = report.findings
    assert finding.message.startswith("p ")
    assert len(data) < 20_000
    if abs(inflow) ** 4 >= 10**1001:
        assert finding.message.startswith("p —")  # past the bound: null, shown as a dash


# --- memory ---------------------------------------------------------------------------------


def _proposals() -> Iterator[dict[str, Any]]:
    rng = random.Random(7)
    history = [json.loads(line) for line in (ROOT / "examples/jp/history.jsonl").open()]
    while True:
        base = copy.deepcopy(rng.choice(history))
        base.update(id=f"P{rng.randrange(10**6)}", status="proposed")
        base["effective_on"] = (dt.date(2025, 1, 1) + dt.timedelta(rng.randrange(900))).isoformat()
        yield base


def _history_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in (ROOT / "examples/jp/history.jsonl").open()]


@pytest.mark.parametrize("workers", [0, 1], ids=["in process", "one worker"])
def test_memory_does_not_grow_over_thousands_of_checks(workers: int) -> None:
    records = _history_records()
    stored = History(records)
    source = _proposals()
    with load_pack(ROOT / "rules", workers=workers) as pack:

        def round_of(checks: int) -> None:
            for n in range(checks):
                proposal = next(source)
                if n % 2:
                    pack.check(proposal, history=stored)
                else:  # a new history every other check: the engine must let old ones go
                    pack.check(proposal, history=records[: 5 + n % 20])

        round_of(300)  # warm up: caches, interned strings, the engine's own pools
        gc.collect()
        before = rss_mb()
        with within(300, "thousands of checks"):
            round_of(examples(600, 3_000))
        gc.collect()
        grown = rss_mb() - before
    assert grown < 25, f"memory grew by {grown:.1f} MB"


# --- the watchdog ---------------------------------------------------------------------------


@pytest.fixture
def faulty_pack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.setenv(FAULTS_ENV, "1")
    with load_pack(ROOT / "rules", workers=1, timeout=2) as pack:
        yield pack


def _faulty(fault: str) -> dict[str, Any]:
    proposal = copy.deepcopy(EXAMPLE)
    proposal["extensions"] = {**proposal.get("extensions", {}), "bcm_test_fault": fault}
    return proposal


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("hang", "the worker took longer than 2 s and was stopped"),
        ("segv", "the worker died (SIGSEGV)"),
        ("kill", "the worker died (SIGKILL)"),
    ],
)
def test_a_runaway_check_is_stopped_and_still_answered(
    faulty_pack: Any, fault: str, reason: str
) -> None:
    expected = faulty_pack.check(EXAMPLE)
    assert expected.engine.name == "durable-rules"
    with within(2 + 15, f"a check whose worker does {fault}"):
        report = faulty_pack.check(_faulty(fault))
    assert report.engine.name == "reference"
    assert report.engine.reason == reason
    assert report.to_dict()["findings"] == expected.to_dict()["findings"]
    # the worker was replaced: the next check is the engine's again
    with within(60, "the check after"):
        after = faulty_pack.check(EXAMPLE)
    assert after.engine.name == "durable-rules"
    assert after.to_dict() == expected.to_dict()


def test_the_fault_hook_needs_its_switch() -> None:
    with load_pack(ROOT / "rules", workers=1, timeout=2) as pack:
        report = pack.check(_faulty("hang"))
    assert report.engine.name == "durable-rules"


# --- record numbers read from durable's answers -----------------------------------------------

# The engine reads the numbers of the records a join matched from durable's answer text
# (`"_rid": n`). Text from documents that looks like that must not add or hide a record.
RID_LOOKALIKES = [
    '"_rid": 0,',
    '", "_rid": 1}',
    '\\", \\"_rid\\": 2}',
    '{"_rid": 3}',
    "_rid",
    '"_rid": -4,"',
]

RID_PACK = """principle normative_coherence {
  title en "t"
  rule tagged_before {
    kind note
    let prior = latest h in history
                where h.scope == proposal.scope and h.extensions.tag == proposal.extensions.tag
                  and h.effective_on < proposal.effective_on
    let tagged = count h in history where h.scope == proposal.scope and h.extensions.tag is not null
    when prior is not null or tagged > 2
    severity low
    message en "{prior.id} {tagged}"
    remedy en "r"
  }
}
"""


@pytest.mark.parametrize("pack_text", [None, RID_PACK], ids=["default pack", "extension pack"])
def test_text_like_a_record_number_neither_adds_nor_hides_records(
    pack_text: str | None, tmp_path: Path
) -> None:
    if pack_text is None:
        pack, engine, evaluator = default_pack()
        owned = False
    else:
        pack = pack_from_text(pack_text, tmp_path / "pack")
        engine, evaluator, owned = Engine(pack, compile_pack(pack)), Evaluator(pack), True
    rng = random.Random(7)
    records = []
    for n in range(60):
        record = scoped(rng, f"R{n}{RID_LOOKALIKES[n % len(RID_LOOKALIKES)]}", 2)
        # the scope's words enter durable's facts as written: the place for lookalikes
        record["target"] += RID_LOOKALIKES[n % 4]
        record["title"] = RID_LOOKALIKES[(n + 1) % len(RID_LOOKALIKES)]
        record["extensions"] = {
            "tag": RID_LOOKALIKES[n % 3],
            "_rid": n,
            "note": {"_rid": RID_LOOKALIKES[n % len(RID_LOOKALIKES)]},
        }
        records.append(record)
    index = HistoryIndex(records)
    engine.set_history("rid", records)
    try:
        for n, lookalike in enumerate(RID_LOOKALIKES):
            proposal = {**records[rng.randrange(len(records))], "id": f"P{lookalike}"}
            proposal["status"] = "proposed"
            proposal["extensions"] = {"tag": RID_LOOKALIKES[n % 3], "_rid": -1}
            params = evaluator.params(None, proposal["jurisdiction"])
            assert_same(engine, evaluator, proposal, "rid", index, params)
    finally:
        engine.drop_history("rid")
        if owned:
            engine.close()
