"""The store through its Python API, on SQLite and on PostgreSQL: import, versions, queries,
export, revisions, the resident history, the schema and the errors a user sees."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa

from checker.diagnostics import BcmError
from checker.documents import PolicyChange
from checker.loading import load_history
from checker.store import Store, record_json, resolve_url

from .conftest import record


@pytest.fixture
def store(store_url: str) -> Store:
    opened = Store(store_url)
    yield opened  # type: ignore[misc]
    opened.close()


def codes(err: pytest.ExceptionInfo[BcmError]) -> list[str]:
    return [d.code for d in err.value.diagnostics]


# --- importing --------------------------------------------------------------------------------


def test_the_examples_import_and_read_back_identically(
    store: Store, examples: list[PolicyChange]
) -> None:
    result = store.import_records(examples)
    assert (len(result.added), result.replaced, result.unchanged) == (29, (), ())
    assert (
        result.summary() == "29 records read: 29 added, 0 replaced, 0 unchanged (store revision 1)"
    )
    assert sorted(r.id for r in store.records()) == sorted(r.id for r in examples)
    assert {r.id: r for r in store.records()} == {r.id: r for r in examples}


def test_importing_the_same_records_again_changes_nothing(
    store: Store, examples: list[PolicyChange]
) -> None:
    store.import_records(examples)
    again = store.import_records(examples)
    assert (again.added, again.replaced, len(again.unchanged)) == ((), (), 29)
    assert again.revision == 1 == store.revision()
    assert all(len(store.versions(r.id)) == 1 for r in examples[:5])


def test_same_id_other_content_is_an_error_naming_the_id_and_fields(store: Store) -> None:
    store.import_records([record(1), record(2)])
    changed = record(2, magnitude="major", rationale__trigger="incident")
    with pytest.raises(BcmError) as err:
        store.import_records([record(3), changed])
    (problem,) = err.value.diagnostics
    assert problem.code == "H003"
    assert problem.message == (
        "the store already holds `T-00002` with different content "
        "(fields that differ: `magnitude`, `rationale.trigger`)"
    )
    assert "--replace" in (problem.help or "")
    # all or nothing: T-00003, valid and new, was not written either
    assert store.get("T-00003") is None
    assert store.revision() == 1


def test_every_conflicting_record_is_reported_at_once(store: Store) -> None:
    store.import_records([record(n) for n in range(5)])
    with pytest.raises(BcmError) as err:
        store.import_records([record(n, title=f"changed {n}") for n in range(5)])
    assert codes(err) == ["H003"] * 5
    assert {d.message.split("`")[1] for d in err.value.diagnostics} == {
        f"T-{n:05d}" for n in range(5)
    }


def test_replace_keeps_every_old_version(store: Store) -> None:
    store.import_records([record(7)])
    second = store.import_records([record(7, magnitude="major")], replace=True)
    third = store.import_records([record(7, magnitude="mid_level")], replace=True)
    assert second.replaced == ("T-00007",) and third.revision == 3
    versions = store.versions("T-00007")
    assert [(v.version, v.revision, v.current) for v in versions] == [
        (1, 1, False),
        (2, 2, False),
        (3, 3, True),
    ]
    assert [v.record.magnitude.value for v in versions] == ["minor", "major", "mid_level"]
    current = store.get("T-00007")
    assert current is not None and current.magnitude.value == "mid_level"
    assert all(v.recorded_at.tzinfo is not None for v in versions)
    # replacing with identical content is still a no-op
    assert store.import_records([record(7, magnitude="mid_level")], replace=True).unchanged


def test_two_different_records_with_one_id_in_a_batch_are_an_error(store: Store) -> None:
    with pytest.raises(BcmError) as err:
        store.import_records([record(1), record(1, title="other")])
    assert codes(err) == ["D107"]
    assert "`T-00001`" in err.value.diagnostics[0].message
    assert store.count() == 0


def test_exact_decimals_survive_the_store(store: Store, tmp_path: Path) -> None:
    # 1.36 -> 1.496 is exactly a 10% change; through a float it is not.
    precise = "0.1000000000000000055511151231257827021181583404541015625"
    text = record_json(record(1))
    text = text.replace('"value":1.36,"previous":1.2', '"value":1.496,"previous":1.36')
    text = text.replace('"extensions":{', f'"extensions":{{"precise":{precise},')
    path = tmp_path / "one.jsonl"
    path.write_text(text + "\n", encoding="utf-8")
    (original,) = load_history(str(path))
    store.import_records([original])
    stored = store.get("T-00001")
    assert stored is not None and stored == original
    evidence = stored.rationale.evidence[0]
    assert (evidence.value, evidence.previous) == (Decimal("1.496"), Decimal("1.36"))
    assert (evidence.value - evidence.previous) / evidence.previous == Decimal("0.1")
    assert stored.extensions["precise"] == Decimal(precise)
    exported = io.StringIO()
    store.export(exported)
    assert exported.getvalue() == text + "\n"


def test_japanese_text_survives_the_store(store: Store, examples: list[PolicyChange]) -> None:
    store.import_records(examples)
    ltr = store.get("JP-1990-LTR")
    assert ltr is not None
    assert (
        ltr.extensions["title_ja"]
        == "在留資格「定住者」の創設と日系三世への付与（平成元年入管法改正）"
    )
    assert "定住者" in (ltr.rationale.statement or "")


# --- reading ----------------------------------------------------------------------------------


FILTERS = [
    ({"jurisdiction": "JP", "area": "entry_stay", "target": "trainees"},
     ["JP-1993-TITP", "JP-2010-TITP-STATUS", "JP-2017-TITP-ACT", "JP-2027-ESD"]),
    ({"area": "border_control", "target": "all_migrants"},
     ["JP-2020-COVID-ENTRY-BAN", "JP-2022-BORDER-PARTIAL", "JP-2022-BORDER-REOPEN"]),
    ({"area": "exit", "effective_from": "2009-04-01", "effective_to": dt.date(2013, 10, 15)},
     ["JP-2009-NIKKEI-RETURN", "JP-2013-NIKKEI-REENTRY"]),
    ({"area": "exit", "effective_from": "2009-04-02", "effective_to": "2013-10-14"}, []),
    ({"jurisdiction": "DE"}, []),
    ({"status": "withdrawn"}, []),
]  # fmt: skip


def test_records_filter_and_come_in_date_order(store: Store, examples: list[PolicyChange]) -> None:
    store.import_records(examples)
    for filters, expected in FILTERS:
        found = [r.id for r in store.records(**filters)]  # type: ignore[arg-type]
        assert found == expected, filters


def test_records_of_one_date_come_in_id_order(store: Store) -> None:
    store.import_records([record(n, effective_on="2020-01-01") for n in (3, 1, 2)])
    assert [r.id for r in store.records()] == ["T-00001", "T-00002", "T-00003"]


def test_get_and_versions_of_an_unknown_id(store: Store) -> None:
    assert store.get("nope") is None
    assert store.versions("nope") == []


def test_export_imports_back_to_the_same_store(
    store: Store, examples: list[PolicyChange], tmp_path: Path
) -> None:
    store.import_records(examples)
    out = io.StringIO()
    assert store.export(out) == 29
    lines = out.getvalue().splitlines()
    assert len(lines) == 29 and lines[0].startswith('{"id":"JP-1990-EMPLOYER-SANCTION"')
    path = tmp_path / "export.jsonl"
    path.write_text(out.getvalue(), encoding="utf-8")
    again = store.import_records(load_history(str(path)))
    assert (again.added, again.replaced, len(again.unchanged)) == ((), (), 29)
    fresh = Store(f"sqlite:///{tmp_path / 'fresh.db'}")
    fresh.import_records(load_history(str(path)))
    copied = io.StringIO()
    fresh.export(copied)
    fresh.close()
    assert copied.getvalue() == out.getvalue()


def test_revision_changes_only_when_the_records_change(store: Store) -> None:
    assert store.revision() == 0
    store.import_records([record(1)])
    assert store.revision() == 1
    store.import_records([record(1)])
    assert store.revision() == 1
    store.import_records([record(1), record(2)])
    assert store.revision() == 2
    with pytest.raises(BcmError):
        store.import_records([record(2, title="other"), record(3)])
    assert store.revision() == 2


def test_the_resident_history_follows_the_store(store_url: str) -> None:
    writer, reader = Store(store_url), Store(store_url)
    try:
        writer.import_records([record(1), record(2, jurisdiction="DE")])
        first = reader.history("JP")
        assert [r.id for r in first.records] == ["T-00001"]
        assert reader.history("JP") is first  # unchanged store: the same resident history
        writer.import_records([record(3), record(4, jurisdiction="DE")])
        grown = reader.history("JP")
        # only additions: appended to the resident history, which the engine keeps
        assert grown is first and sorted(r.id for r in grown.records) == ["T-00001", "T-00003"]
        writer.import_records([record(1, title="replaced")], replace=True)
        rebuilt = reader.history("JP")
        assert rebuilt is not first
        assert {r.id: r.title for r in rebuilt.records}["T-00001"] == "replaced"
        writer.import_records([record(3, jurisdiction="DE")], replace=True)
        assert [r.id for r in reader.history("JP").records] == ["T-00001"]
    finally:
        writer.close()
        reader.close()


def test_extensions_from_the_api_that_json_cannot_hold_are_refused(store: Store) -> None:
    # Files hold only JSON values; the Python API can put anything under `extensions`.
    dated = record(1, extensions={"when": dt.datetime(2020, 1, 1, 9, 30)})
    store.import_records([dated])
    stored = store.get("T-00001")
    assert stored is not None and stored.extensions == {"when": "2020-01-01T09:30:00"}
    with pytest.raises(ValueError, match="a value of type complex cannot be stored as JSON"):
        store.import_records([record(2, extensions={"z": 1j}), record(3)])
    assert store.count() == 1


# --- the schema and the errors a user sees ------------------------------------------------------


def test_the_migrations_create_the_schema_the_code_uses(store: Store) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from checker.store import metadata

    with store._engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
        head = MigrationContext.configure(conn).get_current_revision()
    assert differences == []
    assert head == "0001"


def test_sqlite_stores_are_in_wal_mode(tmp_path: Path) -> None:
    store = Store(str(tmp_path / "plain-path.db"))
    store.import_records([record(1)])
    with store._engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()
    assert (tmp_path / "plain-path.db").is_file()


def test_a_store_from_a_newer_bcm_is_refused(store_url: str) -> None:
    Store(store_url).close()
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0099'"))
    engine.dispose()
    with pytest.raises(BcmError) as err:
        Store(store_url)
    assert codes(err) == ["H002"]
    assert (
        "schema revision `0099`, which this bcm does not know" in err.value.diagnostics[0].message
    )


BAD_URLS = [
    ("/no/such/folder/bcm.db", "the folder /no/such/folder does not exist"),
    ("mysql+nosuchdriver://u@h/db", "cannot store history in `mysql` databases"),
    ("postgresql://bcm:secret@127.0.0.1:1/bcm", "cannot open the history store "
     "postgresql+psycopg://bcm:***@127.0.0.1:1/bcm"),
    ("not a url://x", "`not a url://x` is not a database URL"),
]  # fmt: skip


@pytest.mark.parametrize(("url", "message"), BAD_URLS)
def test_a_store_that_cannot_be_opened_says_why(url: str, message: str) -> None:
    with pytest.raises(BcmError) as err:
        Store(url)
    assert codes(err) == ["H001"]
    assert message in err.value.diagnostics[0].message
    assert "secret" not in err.value.diagnostics[0].message


def test_a_reader_does_not_create_a_store(tmp_path: Path) -> None:
    with pytest.raises(BcmError) as err:
        Store(str(tmp_path / "missing.db"), create=False)
    assert err.value.diagnostics[0].message == f"there is no history store at {tmp_path}/missing.db"
    assert not (tmp_path / "missing.db").exists()


URLS = [
    (None, {}, "sqlite:///bcm.db"),
    (None, {"BCM_DATABASE_URL": "sqlite:////data/h.db"}, "sqlite:////data/h.db"),
    ("h.db", {"BCM_DATABASE_URL": "sqlite:////data/h.db"}, "sqlite:///h.db"),
    ("/abs/h.db", {}, "sqlite:////abs/h.db"),
    ("postgresql://u@h/db", {}, "postgresql+psycopg://u@h/db"),
    ("postgres://u@h/db", {}, "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", {}, "postgresql+psycopg://u@h/db"),
]


@pytest.mark.parametrize(("given", "env", "expected"), URLS)
def test_where_the_store_is(
    given: str | None, env: dict[str, str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BCM_DATABASE_URL", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert resolve_url(given) == expected
