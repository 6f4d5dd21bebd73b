"""The cyclic garbage collector is paused while many objects are loaded, and only then."""

from __future__ import annotations

import gc

import pytest

from checker.api import History
from checker.gcpause import cycle_collection_paused

from . import policy


def test_paused_for_the_block_and_enabled_again() -> None:
    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_enabled_again_when_the_block_raises() -> None:
    with pytest.raises(ValueError), cycle_collection_paused():
        raise ValueError("a load that fails")
    assert gc.isenabled()


def test_a_callers_disable_stays() -> None:
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_loading_a_history_pauses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[bool] = []
    import checker.semantics

    to_fact = checker.semantics.to_fact

    def noting(doc: object) -> object:
        seen.append(gc.isenabled())
        return to_fact(doc)  # type: ignore[arg-type]

    monkeypatch.setattr(checker.semantics, "to_fact", noting)
    records = [policy("H1", "2019-04-01", "expand"), policy("H2", "2020-04-01", "restrict")]
    history = History(records)
    assert [f["id"] for f in history.facts()] == ["H1", "H2"]
    assert seen == [False, False]
    assert gc.isenabled()
