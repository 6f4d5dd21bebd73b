"""Findings made from the engine's bindings equal those made from the reference evaluator's.

`pack.check` builds findings from what the engine bound, with shortcuts the reference path
does not take: per-rule plans kept across checks, and the `related` ids of a sequence taken
as a slice of the engine's ordered records. Over the default pack, histories in one scope
and over several, and both languages, every finding (message, remedy, evidence, related)
is the same either way.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from checker.api import History, Pack, load_pack

from . import bench_document

RULES = str(Path(__file__).resolve().parents[2] / "rules")
SCOPES = [
    ("JP", "entry_stay", "trainees"),
    ("JP", "entry_stay", "students"),
    ("KR", "integration", "refugees_asylum_seekers"),
]


@pytest.fixture(scope="module")
def packs() -> Iterator[tuple[Pack, Pack]]:
    with load_pack(RULES, workers=0) as engine:
        referee = Pack(engine.checked, engine._runner.reference_runner("test"))
        yield engine, referee


@pytest.mark.parametrize("spread", [1, 3])
@pytest.mark.parametrize("lang", ["en", "ja"])
def test_engine_findings_equal_the_reference_findings(
    packs: tuple[Pack, Pack], spread: int, lang: str
) -> None:
    engine, referee = packs
    rng = random.Random(spread * 7 + len(lang))
    records = [bench_document(rng, f"H{n}", rng.choice(SCOPES[:spread]), False) for n in range(300)]
    history = History(records)
    related = 0
    for n in range(40):
        proposal = bench_document(rng, f"P{n}", rng.choice(SCOPES[:spread]), True)
        checked = engine.check(proposal, history, lang=lang)
        expected = referee.check(proposal, history, lang=lang)
        assert checked.engine.name == "durable-rules"
        assert checked.findings == expected.findings
        related += sum(len(f.related) > 1 for f in checked.findings)
    assert related  # sequences were bound and shown
