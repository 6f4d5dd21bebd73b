"""Tests of runtime semantics, the reference evaluator and findings, with small helpers.

`pack_from_text` turns the text of one rule file into a CheckedPack, through the real loader
(`checker.lang.pack.load_checked_pack`) so that the tests see exactly what users' packs give.
`policy` builds a policy-change fact from the few fields a test cares about.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import random
from pathlib import Path
from typing import Any

from checker.documents import PolicyChange
from checker.lang.checked import CheckedPack
from checker.lang.pack import load_checked_pack
from checker.semantics import to_fact

MANIFEST = """name = "test-pack"
version = "0.0.1"
default_lang = "en"
"""


def pack_from_text(
    text: str, folder: Path, manifest: str = MANIFEST, file: str = "rules.bcm"
) -> CheckedPack:
    """A checked pack made of one rule file, written into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pack.toml").write_text(manifest, encoding="utf-8")
    (folder / file).write_text(text, encoding="utf-8")
    return load_checked_pack(str(folder))


def policy(
    id: str,
    effective_on: str,
    direction: str = "expand",
    *,
    status: str = "enacted",
    jurisdiction: str = "JP",
    area: str = "entry_stay",
    target: str = "trainees",
    **fields: Any,
) -> dict[str, Any]:
    """A policy-change fact, validated by the document model like any user's document."""
    data: dict[str, Any] = {
        "id": id,
        "title": f"policy {id}",
        "jurisdiction": jurisdiction,
        "area": area,
        "target": target,
        "direction": direction,
        "magnitude": "minor",
        "instrument": "act",
        "legal_basis": [],
        "effective_on": effective_on,
        "status": status,
        **fields,
    }
    return to_fact(PolicyChange.model_validate(data))


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _load_engine_bench() -> Any:
    spec = importlib.util.spec_from_file_location(
        "engine_bench", Path(__file__).resolve().parents[2] / "bench" / "engine_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_engine_bench = _load_engine_bench()


def bench_document(
    rng: random.Random, id: str, scope: tuple[str, str, str], proposal: bool
) -> dict[str, Any]:
    """A random policy change as the engine benchmark makes them: every part of a proposal
    the default pack reads (a record when `proposal` is false)."""
    return _engine_bench.document(rng, id, scope, proposal)  # type: ignore[no-any-return]
