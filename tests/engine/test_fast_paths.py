"""The engine's fast paths against the reference evaluator, where they are most likely wrong.

An ordered join's sequence is a run of its partition's date order, and `direction_changes`
over such a run is answered from prefix counts kept per (partition, history version). These
tests aim at what that could get wrong: long histories in one scope, many records on the same
date (ties go to the greater id), windows whose lower bound falls exactly on a record's date
(windows include their bound), proposals on a record's date ("before" is strict), histories
grown after a check (the counts must be made again), and sequences the compiler cannot prove
contiguous (those take the general path). Every comparison includes the lets, so a wrong
`swings` fails even when the rule's verdict happens to agree.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.compiler import compile_pack
from checker.engine import Engine
from checker.lang.checked import CheckedPack
from checker.reference import Evaluator, HistoryIndex

from . import pack_from_text, policy
from .test_differential import assert_same, default_pack

START = dt.date(2010, 1, 1)
DIRECTIONS = ("expand", "restrict", "neutral")
STATUSES = ("enacted", "enacted", "enacted", "withdrawn", "proposed")


def long_history(rng: random.Random, size: int, days: int, prefix: str) -> list[dict[str, Any]]:
    """`size` records of one scope (now and then another) over `days` days: with a short span
    many records share a date."""
    records = []
    for n in range(size):
        target = "trainees" if rng.random() < 0.9 else "students"
        effective = START + dt.timedelta(days=rng.randrange(days))
        records.append(
            policy(
                f"{prefix}{rng.randrange(10**6):06d}-{n}",
                effective.isoformat(),
                rng.choice(DIRECTIONS),
                status=rng.choice(STATUSES),
                target=target,
            )
        )
    return records


def proposal_near(rng: random.Random, records: list[dict[str, Any]], n: int) -> dict[str, Any]:
    """A proposal on a record's date, a day after one, or anywhere (also before them all)."""
    choice = rng.randrange(4)
    if records and choice < 3:
        effective = rng.choice(records)["effective_on"] + dt.timedelta(days=choice)
    else:
        effective = START + dt.timedelta(days=rng.randrange(-30, 4000))
    return policy(
        f"P{n}",
        effective.isoformat(),
        rng.choice(DIRECTIONS),
        status="proposed",
        target="trainees" if rng.random() < 0.9 else "students",
        rationale={"trigger": rng.choice([None, "electoral_pledge", "other"])},
    )


def window_on_a_record(
    rng: random.Random, proposal: dict[str, Any], records: list[dict[str, Any]]
) -> int:
    """A window whose first day is exactly a record's date (or one day off it)."""
    earlier = [r["effective_on"] for r in records if r["effective_on"] < proposal["effective_on"]]
    if not earlier:
        return rng.randrange(0, 3000)
    gap = (proposal["effective_on"] - rng.choice(earlier)).days
    return max(0, gap + rng.choice([-1, 0, 0, 1]))


def run(
    data: st.DataObject,
    engine: Engine,
    evaluator: Evaluator,
    windowed: tuple[str, ...],
    sizes: tuple[int, int],
) -> None:
    rng = random.Random(data.draw(st.integers(0, 2**32), label="seed"))
    span = data.draw(st.sampled_from([3, 60, 1500, 4000]), label="span of dates")
    size = data.draw(st.integers(*sizes), label="size")
    records = long_history(rng, size, span, "R")
    key = f"fast{next(_keys)}"
    engine.set_history(key, records)
    index = HistoryIndex(records)
    try:
        for round in range(2):
            for n in range(3):
                proposal = proposal_near(rng, records, n)
                params = evaluator.params(None, "JP")
                for name in windowed:
                    params[name] = Decimal(window_on_a_record(rng, proposal, records))
                assert_same(engine, evaluator, proposal, key, index, params)
            if round == 0:
                # grown after checks: the orders and their counts are made again; ties with
                # the records already there
                more = long_history(rng, rng.randrange(1, 40), span, "X")
                records = records + more
                engine.add_history(key, more)
                index.add(more)
    finally:
        engine.drop_history(key)


_keys = itertools.count()


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_default_pack_on_long_histories_of_one_scope(data: st.DataObject) -> None:
    _, engine, evaluator = default_pack()
    run(data, engine, evaluator, ("oscillation_window", "reversal_window"), (0, 1500))


# Sequences of several shapes: windowed and not, from below and above, with tests on the record
# only (ordered: the fast path), and with a test reading both sides besides the window (not
# ordered: the general path); direction_changes in lets, in `when`, and against another record.
SHAPES = """principle normative_coherence {
  title en "t"
  param window = 1461 days
  param span = 365 days

  rule windowed {
    kind tension
    let prior = latest h in history where h.scope == proposal.scope and h.status == "enacted"
    let recent = sequence h in history where h.scope == proposal.scope
      and h.status == "enacted" and h.direction != "neutral"
      and days(h.effective_on, proposal.effective_on) <= window
    let swings = direction_changes(recent, proposal)
    let back = direction_changes(recent, prior)
    when swings >= 0 and back >= 0
    severity low
    message en "m"
    remedy en "r"
  }

  rule everything {
    kind note
    let whole = sequence h in history where h.scope == proposal.scope and h.direction != "neutral"
    when direction_changes(whole, proposal) >= 2
    severity low
    message en "m"
    remedy en "r"
  }

  rule from_a_day {
    kind note
    let later = sequence h in history where h.target == proposal.target
      and h.effective_on >= proposal.effective_on - span
    let turns = direction_changes(later, proposal)
    when turns >= 0
    severity low
    message en "m"
    remedy en "r"
  }

  rule strict_window {
    kind note
    let near = sequence h in history where h.target == proposal.target
      and h.status == "enacted"
      and days(h.effective_on, proposal.effective_on) < span
    when direction_changes(near, proposal) >= 1
    severity low
    message en "m"
    remedy en "r"
  }

  rule not_contiguous {
    kind note
    let mixed = sequence h in history where h.scope == proposal.scope
      and h.status == "enacted"
      and days(h.effective_on, proposal.effective_on) <= window
      and h.magnitude == proposal.magnitude
    let turns = direction_changes(mixed, proposal)
    when turns >= 0
    severity low
    message en "m"
    remedy en "r"
  }
}
"""

_SHAPES: dict[str, Any] = {}


def shapes_pack() -> tuple[CheckedPack, Engine, Evaluator]:
    if not _SHAPES:
        folder = Path(tempfile.mkdtemp(prefix="bcm-fast-paths-"))
        pack = pack_from_text(SHAPES, folder)
        plan = compile_pack(pack)
        _SHAPES["plan"] = plan
        _SHAPES["engine"] = Engine(pack, plan)
        _SHAPES["evaluator"] = Evaluator(pack)
        _SHAPES["pack"] = pack
    return _SHAPES["pack"], _SHAPES["engine"], _SHAPES["evaluator"]


def test_the_shapes_are_ordered_where_the_fast_path_applies() -> None:
    """The pack above meets both paths: `recent`, `whole` and `near` are ordered joins (the
    fast path), `later` (a date minus a duration) and `mixed` (a test reading both sides) are
    not."""
    pack, _, _ = shapes_pack()
    plan = _SHAPES["plan"]
    ordered = {
        let.name: plan.joins[
            next(s.join for s in plan.slots if s.key == plan.slot_of[let.value])
        ].ordered
        for info in pack.rules
        for let in info.rule.lets
        if let.name in ("recent", "whole", "near", "later", "mixed")
    }
    assert ordered == {
        "recent": True, "whole": True, "near": True, "later": False, "mixed": False
    }  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_sequence_shapes_on_long_histories(data: st.DataObject) -> None:
    _, engine, evaluator = shapes_pack()
    run(data, engine, evaluator, ("window", "span"), (0, 800))


def test_direction_changes_over_a_long_run_counts_every_turn() -> None:
    """A worked case: 2,000 alternating records, 30 a day, a window ending exactly on a date
    boundary, the proposal on the date of the last records (which do not count)."""
    _, engine, evaluator = default_pack()
    records = [
        policy(f"A{n:05d}", (START + dt.timedelta(days=n // 30)).isoformat(), DIRECTIONS[n % 2])
        for n in range(2000)
    ]
    proposal = policy(
        "P", (START + dt.timedelta(days=1999 // 30)).isoformat(), "expand", status="proposed"
    )
    engine.set_history("alternating", records)
    try:
        params = evaluator.params(None, "JP")
        params["oscillation_window"] = Decimal(10)
        fired = {f.rule.id: f for f in engine.check(proposal, "alternating", params)}
        # records of days 56..65 (10 days back from day 66, inclusive): 300 records, 299
        # turns between them and one from the last (A01979, restrict) to the proposal
        swings = fired["oscillation"].env.lets["swings"]
        expected = evaluator.check(proposal, HistoryIndex(records), params)
        assert (
            swings
            == 300
            == next(f.env.lets["swings"] for f in expected if f.rule.id == "oscillation")
        )
    finally:
        engine.drop_history("alternating")


def test_equal_upper_rules_are_compiled_once() -> None:
    """`prior` and `recent` of the default pack test the record alike: one upper rule finds
    the last record before the proposal for both, and only `recent` has a first rule."""
    pack, _, _ = default_pack()
    plan = compile_pack(pack)
    joins = [j for j in plan.joins if j.ordered]
    assert [(j.upper_from, j.windowed) for j in joins] == [(None, False), (joins[0].index, True)]
    rules = set(plan.join_rulesets[0].rules)
    assert rules == {"_probe", joins[0].rule, joins[1].first_rule}


FOLLOWER_PACK = """principle normative_coherence {
  title en "t"
  param window = 30 days
  rule windowed {
    kind conflict
    let recent = count h in history where h.scope == proposal.scope
      and days(h.effective_on, proposal.effective_on) <= window
    when recent >= 0
    severity medium
    message en "m"
    remedy en "r"
  }
  rule plain {
    kind conflict
    let total = count h in history where h.scope == proposal.scope
    let last = latest h in history where h.scope == proposal.scope
    when total >= 0 and last.id != "x"
    severity medium
    message en "m"
    remedy en "r"
  }
}
"""


def test_a_join_that_borrows_an_upper_rule_and_has_none_of_its_own() -> None:
    """`plain`'s queries test the record as `windowed`'s does: they take their last record
    from `windowed`'s upper rule and, without a window, have no rule of their own, so the
    compiler gives them no ruleset. They count in the partitions of the join they borrow
    from (a hypothesis example once found them answered as if nothing matched)."""
    with tempfile.TemporaryDirectory() as folder:
        pack = pack_from_text(FOLLOWER_PACK, Path(folder))
    plan = compile_pack(pack)
    followers = [j for j in plan.joins if j.upper_from is not None and not j.windowed]
    assert followers and all(j.ruleset == "" for j in followers)
    engine, evaluator = Engine(pack, plan), Evaluator(pack)
    records = [
        policy("R1", "2018-01-01", "neutral", status="withdrawn", target="students"),
        policy("R2", "2019-05-01", "expand", target="students"),
        policy("R3", "2019-05-20", "restrict", target="students"),
        policy("R4", "2018-01-03", target="trainees"),
    ]
    engine.set_history("h", records)
    params = evaluator.params(None, "JP")
    for day in ("2017-12-01", "2018-01-01", "2018-01-02", "2019-05-21", "2019-07-01"):
        proposal = policy("P", day, "restrict", status="proposed", target="students")
        assert_same(engine, evaluator, proposal, "h", HistoryIndex(records), params)
    engine.close()
