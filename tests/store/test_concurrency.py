"""Importers as separate processes, on SQLite and on PostgreSQL: killed mid-way, the store is
exactly as before; two at once, they never corrupt the store or interleave half imports."""

from __future__ import annotations

import io
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import sqlalchemy as sa

from checker.documents import PolicyChange
from checker.store import Store, policy_change_versions

from .conftest import record

IMPORTER = Path(__file__).with_name("importer.py")


class Importer:
    """An importer process whose output lines the test reads as they come."""

    def __init__(self, url: str, first: int, count: int, *options: str):
        self.process = subprocess.Popen(
            [sys.executable, str(IMPORTER), url, str(first), str(count), *options],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("<exit>")

    def next_line(self, timeout: float = 60.0) -> str:
        line = self.lines.get(timeout=timeout)
        self.seen.append(line)
        return line

    def finish(self, timeout: float = 120.0) -> list[str]:
        self.process.wait(timeout=timeout)
        while self.next_line() != "<exit>":
            pass
        return self.seen[:-1]


def exported(store: Store) -> str:
    out = io.StringIO()
    store.export(out)
    return out.getvalue()


def test_an_import_killed_mid_way_leaves_the_store_exactly_as_before(
    store_url: str, examples: list[PolicyChange]
) -> None:
    store = Store(store_url)
    store.import_records(examples)
    # a record with two versions, outside the killed import's ids
    store.import_records([record(5000, title="version 1")])
    store.import_records([record(5000, title="version 2")], replace=True)
    before = (exported(store), store.revision(), store.versions("T-05000"))
    store.close()

    importer = Importer(store_url, 0, 700, "--hold", "60")
    assert importer.next_line() == "ready"
    # The first chunk of rows is written (inside its transaction); kill it there.
    assert importer.next_line() == "writing 500"
    importer.process.send_signal(signal.SIGKILL)
    importer.process.wait(timeout=30)
    assert importer.process.returncode == -signal.SIGKILL

    after = Store(store_url)
    try:
        assert (exported(after), after.revision(), after.versions("T-05000")) == before
        assert after.count() == 30 and after.get("T-00000") is None
        if after.is_sqlite:
            with after._engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        # nothing is left locked: the next import goes through
        result = after.import_records([record(0), record(5000, title="version 3")], replace=True)
        assert (result.added, result.replaced, result.revision) == (("T-00000",), ("T-05000",), 4)
    finally:
        after.close()


def test_two_importers_at_once_never_interleave(store_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    # 0..699 and 400..1099: the 300 records in both are identical. Each holds its transaction
    # open a while after every chunk (of 500), so the other certainly arrives while it writes.
    # Both open the new store at once, so its creation (the migrations) races too.
    first = Importer(store_url, 0, 700, "--hold", "0.3", "--wait", str(go))
    second = Importer(store_url, 400, 700, "--hold", "0.3", "--wait", str(go))
    assert first.next_line() == "ready" and second.next_line() == "ready"
    reader = Store(store_url)
    counts = set()
    go.touch()
    try:
        while first.process.poll() is None or second.process.poll() is None:
            counts.add(reader.count())
            time.sleep(0.02)
        counts.add(reader.count())
        outputs = [first.finish(), second.finish()]
        summaries = sorted(lines[-1] for lines in outputs)
        assert summaries == [
            "700 records read: 400 added, 0 replaced, 300 unchanged (store revision 2)",
            "700 records read: 700 added, 0 replaced, 0 unchanged (store revision 1)",
        ], outputs
        # a reader saw the store before, between and after the imports, never half of one
        assert counts <= {0, 700, 1100} and 1100 in counts, counts
        assert reader.count() == 1100 and reader.revision() == 2
        with reader._engine.connect() as conn:
            v = policy_change_versions
            rows = conn.execute(sa.select(v.c.id, v.c.version, v.c.revision)).all()
        assert len(rows) == 1100 and {row.version for row in rows} == {1}
        winner = 0 if outputs[0][-1].endswith("(store revision 1)") else 400
        by_revision = {row.id: row.revision for row in rows}
        mine = {f"T-{n:05d}" for n in range(winner, winner + 700)}
        assert {by_revision[i] for i in mine} == {1}
        assert {by_revision[i] for i in by_revision.keys() - mine} == {2}
    finally:
        reader.close()


def test_of_two_conflicting_importers_one_wins_whole(store_url: str, tmp_path: Path) -> None:
    go = tmp_path / "go"
    Store(store_url).close()
    plain = Importer(store_url, 0, 700, "--hold", "0.2", "--wait", str(go))
    retitled = Importer(store_url, 400, 700, "--title", "other", "--hold", "0.2", "--wait", str(go))
    assert plain.next_line() == "ready" and retitled.next_line() == "ready"
    go.touch()
    outputs = {"plain": plain.finish()[-1], "retitled": retitled.finish()[-1]}
    won = "plain" if outputs["plain"].endswith("(store revision 1)") else "retitled"
    lost = "retitled" if won == "plain" else "plain"
    assert outputs[won] == "700 records read: 700 added, 0 replaced, 0 unchanged (store revision 1)"
    assert outputs[lost].startswith(
        "failed: the store already holds `T-00400` with different content "
        "(fields that differ: `title`); "
    )
    assert outputs[lost].count("with different content") == 300
    store = Store(store_url)
    try:
        assert store.revision() == 1 and store.count() == 700
        titles = {r.title for r in store.records()}
        assert (titles == {"other"}) is (won == "retitled")
    finally:
        store.close()
