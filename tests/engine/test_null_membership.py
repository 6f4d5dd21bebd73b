"""`not (x not in [...])` with a null x: `x not in [...]` is false for null (like `in`), so its
negation is true. The compiler had made it `x in [...]` in the engine, false for null; found by
the generated-pack differential test."""

from __future__ import annotations

from pathlib import Path

import pytest

from checker.compiler import compile_pack
from checker.engine import Engine
from checker.reference import Evaluator, HistoryIndex

from . import pack_from_text, policy

PACK = """principle normative_coherence {
  title en "t"

  rule r {
    kind note
    when WHEN
    severity low
    message en "m"
    remedy en "r"
  }
}
"""


@pytest.mark.parametrize(
    "when",
    [
        'not (proposal.rationale.trigger not in ["evidence"])',
        'not (proposal.rationale.trigger in ["evidence"])',
        'proposal.rationale.trigger not in ["evidence"]',
        'proposal.rationale.trigger in ["evidence"]',
    ],
)
@pytest.mark.parametrize("trigger", [None, "evidence", "other"])
def test_membership_of_a_null_agrees_with_the_reference(
    tmp_path: Path, when: str, trigger: str | None
) -> None:
    pack = pack_from_text(PACK.replace("WHEN", when), tmp_path)
    engine, evaluator = Engine(pack, compile_pack(pack)), Evaluator(pack)
    proposal = policy("P", "2020-01-01", status="proposed", rationale={"trigger": trigger})
    params = evaluator.params()
    try:
        expected = [f.rule.id for f in evaluator.check(proposal, HistoryIndex([]), params)]
        assert [f.rule.id for f in engine.check(proposal, None, params)] == expected
    finally:
        engine.close()
