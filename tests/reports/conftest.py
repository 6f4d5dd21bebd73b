"""The three example proposals checked against the default pack and the Japanese history, in
English and Japanese: the content every report format is tested on."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from checker.api import History, Pack, load_pack
from checker.documents import PolicyChange, Report
from checker.loading import load_documents, load_history
from checker.report import ReportContext

ROOT = Path(__file__).resolve().parents[2]
# The proposals as a user names them from the repository root; their file names are the cases.
PROPOSALS = {
    "demo-conflict": "examples/jp/proposals/demo-conflict.json",
    "demo-tension": "examples/jp/proposals/demo-tension.json",
    "demo-consistent": "examples/jp/proposals/demo-consistent.json",
}
HISTORY = "examples/jp/history.jsonl"
LANGS = ("en", "ja")


@dataclass(frozen=True)
class Checked:
    """Reports and the context they are shown in, as `bcm check` makes them."""

    reports: list[Report]
    context: ReportContext
    proposals: list[PolicyChange]


@dataclass(frozen=True)
class Examples:
    pack: Pack
    history: list[PolicyChange]
    proposals: dict[str, PolicyChange]

    def check(self, names: list[str], lang: str) -> Checked:
        docs = [self.proposals[n] for n in names]
        history = History(self.history)
        reports = [self.pack.check(d, history, lang=lang) for d in docs]
        files = {self.proposals[n].id: PROPOSALS[n] for n in names}
        context = ReportContext.of_pack(self.pack, lang, docs, self.history, files)
        return Checked(reports, context, docs)


@pytest.fixture(scope="session")
def examples() -> Iterator[Examples]:
    # Loaded from the repository root by relative paths, as a user runs `bcm check` there:
    # rule sources and SARIF locations are then the same on every machine.
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        pack = load_pack("rules")
        history = load_history(HISTORY)
        proposals = {name: load_documents(path)[0] for name, path in PROPOSALS.items()}
    finally:
        os.chdir(here)
    with pack:
        yield Examples(pack, history, proposals)
