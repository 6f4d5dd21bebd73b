"""Short cuts on the engine's hot path against the plain functions they stand for.

Each short cut computes something a slower function also computes (a fact id's hash, a fact's
JSON text, a value's text in a message); these tests hold them to being equal, also at the
edges where a short cut could go wrong.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pytest

from checker import engine as engine_module
from checker.compiler import fnv1a32
from checker.documents import PolicyChange
from checker.engine import EngineError, _encode_fact
from checker.semantics import to_fact

from . import bench_document
from .test_differential import default_pack


@pytest.mark.parametrize("prefix", ["p", "h", "x", "", "pp9", "é"])
def test_fresh_ids_hash_as_fnv1a32(prefix: str) -> None:
    """`_fresh_id` hashes the last digit onto a kept hash of the rest; counters crossing
    tens, hundreds and powers of ten, set back, and prefixes taking turns must not matter."""
    _, engine, _ = default_pack()
    saved = engine._counter
    try:
        for start in (0, 1, 8, 9, 10, 99, 100, 995, 10**6 - 3, 42, 0):
            engine._counter = start
            for _ in range(13):
                for which in (prefix, "q"):
                    fresh, h = engine._fresh_id(which, set())
                    assert fresh == f"{which}{engine._counter}"
                    assert h == fnv1a32(fresh)
    finally:
        engine._counter = max(saved, engine._counter)


def test_fresh_ids_skip_taken_hashes() -> None:
    _, engine, _ = default_pack()
    engine._counter = 18
    taken = {fnv1a32("p19"), fnv1a32("p20")}
    assert engine._fresh_id("p", taken) == ("p21", fnv1a32("p21"))


TAILS: list[tuple[tuple[str, Any], ...]] = [
    (("sid", "0"),),
    (("_bu0", 430), ("_bl1", -2), ("sid", "s60"), ("_t", "p")),
    (("sid", 'a"b'), ("_t", "p"), ("_x", None), ("_y", True)),
    # keys given twice or already in the fact: the dict keeps the first place, last value
    (("sid", "1"), ("sid", "2")),
    (("_k", 7), ("sid", "0")),
    (("r.target", "x"), ("sid", "0")),
]


def test_fact_texts_are_the_built_facts_encoded() -> None:
    """`_FactBuilder.text` writes the fact `build` makes with the tail and id added, as
    `_encode_fact` would: the same keys in the same order, the same values, over proposals of
    every shape the default pack's rulesets read (missing fields, nulls, long texts, values of
    other types, every flag and query outcome), for the join phase's facts and the rule
    phase's; a value `build` refuses, `text` refuses with the same error."""
    _, engine, _ = default_pack()
    rng = random.Random(5)
    builders = [engine._builders[rs.name] for rs in engine.plan.rulesets]
    assert len(builders) >= 2 and all(b.texts_exact for b in builders)
    params = {name: rng.randrange(1, 4000) for b in builders for _, name in b.params}
    refused = 0
    for n in range(600):
        proposal = bench_fact(rng, n)
        for builder in builders:
            results: dict[str, Any] = {}
            for _, slot in builder.found:
                results[slot] = rng.choice((None, policy_fact(rng, n)))
            for _, slot, _, _ in builder.bound:
                results[slot] = rng.choice((None, policy_fact(rng, n), odd_fact(rng, n)))
            for _, slot in builder.counts:
                results[slot] = rng.choice((0, 7, Decimal(12), Decimal("1.5"), True))
            flags = {key: rng.randrange(2) for key in builder.derived}
            tail = rng.choice(TAILS)
            try:
                fact = builder.build(proposal, params, results, flags)
            except EngineError as err:
                with pytest.raises(EngineError) as raised:
                    builder.text(proposal, params, results, flags, tail, f"p{n}")
                assert str(raised.value) == str(err)
                refused += 1
                continue
            for key, value in tail:
                fact[key] = value
            fact["id"] = f"p{n}"
            text = builder.text(proposal, params, results, flags, tail, f"p{n}")
            assert text == _encode_fact(fact) == engine_module._ENCODE(fact)
    assert 0 < refused < 600


def test_fact_texts_refuse_what_build_refuses() -> None:
    _, engine, _ = default_pack()
    builder = engine._builders[engine.plan.rule_rulesets[0].name]
    names = [name for _, name, _, _, _ in builder.record_texts if name]
    assert names
    proposal = {names[0]: 1.5}  # a float enters no fact
    params = {n: 1 for n in builder.param_names}
    results = {slot: None for _, slot in builder.found + builder.counts}
    results.update({slot: None for _, slot, _, _ in builder.bound})
    flags = {k: 0 for k in builder.derived}
    with pytest.raises(EngineError):
        builder.build(proposal, params, results, flags)
    with pytest.raises(EngineError):
        builder.text(proposal, params, results, flags, (("sid", "0"),), "p1")


# values of the types facts hold and of others, at the edges of what the engine takes
ODD_VALUES = [
    None,
    True,
    False,
    0,
    -1,
    2**53 - 1,
    2**53,
    -(2**53) + 1,
    -(2**53),
    Decimal("5"),
    Decimal("5.0"),
    Decimal("5.5"),
    Decimal("NaN"),
    1.5,
    "",
    "x" * 1024,
    "x" * 1025 + '"\\\n é',
    dt.date(1, 1, 1),
    dt.date(2020, 2, 29),
    dt.datetime(2020, 1, 1, 12),
    [],
    {},
]


def bench_fact(rng: random.Random, n: int) -> dict[str, Any]:
    """A proposal fact like the benchmark's, now and then with fields missing or odd."""
    doc = bench_document(rng, f"P{n}", ("JP", "entry_stay", "students"), True)
    fact = to_fact(PolicyChange.model_validate(doc))
    if rng.random() < 0.2:
        fact.pop(rng.choice(sorted(fact)))
    if rng.random() < 0.2:
        fact["direction"] = "x" * rng.choice((3, 1025, 5000)) + '"\\\n é'
    if rng.random() < 0.3:
        return odd(rng, fact)
    return fact


def odd_fact(rng: random.Random, n: int) -> dict[str, Any]:
    return odd(rng, policy_fact(rng, n))


def odd(rng: random.Random, fact: dict[str, Any]) -> dict[str, Any]:
    """The fact with one field, or one field of a part, holding an odd value."""
    key = rng.choice(sorted(fact))
    if isinstance(fact[key], dict) and fact[key]:
        part = dict(fact[key])
        part[rng.choice(sorted(part))] = rng.choice(ODD_VALUES)
        fact[key] = part
    else:
        fact[key] = rng.choice(ODD_VALUES)
    return fact


def policy_fact(rng: random.Random, n: int) -> dict[str, Any]:
    doc = bench_document(rng, f"H{n}", ("JP", "entry_stay", "students"), False)
    return to_fact(PolicyChange.model_validate(doc))
