"""Findings made from the engine's bindings equal those made from the reference evaluator's.

`pack.check` builds findings from what the engine bound, with shortcuts the reference path
does not take: per-rule plans kept across checks, and the `related` ids of a sequence taken
as a slice of the engine's ordered records. Over the default pack, histories in one scope
and over several, and both languages, every finding (message, remedy, evidence, related)
is the same either way.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker.api import History, Pack, load_pack

RULES = str(Path(__file__).resolve().parents[2] / "rules")
SCOPES = [
    ("JP", "entry_stay", "trainees"),
    ("JP", "entry_stay", "students"),
    ("KR", "integration", "refugees_asylum_seekers"),
]


def document(rng: random.Random, id: str, scope: tuple[str, str, str], proposal: bool) -> Any:
    jurisdiction, area, target = scope
    day = dt.date(1995, 1, 1) + dt.timedelta(days=rng.randrange(30 * 365))
    return {
        "id": id,
        "title": f"change {id}",
        "jurisdiction": jurisdiction,
        "area": area,
        "target": target,
        "direction": rng.choice(("expand", "restrict", "neutral")),
        "magnitude": rng.choice(("fine_tuning", "minor", "mid_level", "major")),
        "instrument": rng.choice(("act", "cabinet_order", "guideline", "public_notice")),
        "legal_basis": rng.choice(([], ["ICRRA Art. 2-2"])),
        "effective_on": (day + dt.timedelta(days=3650 if proposal else 0)).isoformat(),
        "proposed_on": rng.choice((None, (day - dt.timedelta(days=300)).isoformat())),
        "status": "proposed" if proposal else rng.choice(("enacted", "enacted", "withdrawn")),
        "rationale": {
            "principles": rng.sample(
                ["economic_rationality", "integration_capacity"], rng.randrange(3)
            ),
            "statement": rng.choice((None, "", "labour shortage")),
            "trigger": rng.choice((None, "evidence", "electoral_pledge", "court_ruling")),
            "evidence": [
                {"indicator": "jobs", "value": 1.63, "previous": rng.choice((None, 1.36))}
            ],
        },
        "context": {"announced_in_campaign": rng.random() < 0.3},
    }


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
    records = [document(rng, f"H{n}", rng.choice(SCOPES[:spread]), False) for n in range(300)]
    history = History(records)
    related = 0
    for n in range(40):
        proposal = document(rng, f"P{n}", rng.choice(SCOPES[:spread]), True)
        checked = engine.check(proposal, history, lang=lang)
        expected = referee.check(proposal, history, lang=lang)
        assert checked.engine.name == "durable-rules"
        assert checked.findings == expected.findings
        related += sum(len(f.related) > 1 for f in checked.findings)
    assert related  # sequences were bound and shown
