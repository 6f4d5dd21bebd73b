"""The policy history store: records kept in a database, imported whole or not at all.

SQLite by default (`bcm.db` in the working directory, in WAL mode), PostgreSQL when given a
`postgresql+psycopg://` URL: the same SQLAlchemy Core code and the same schema for both, created
and upgraded by the Alembic migrations in `checker/migrations`, which run whenever a store is
opened. Each record is kept whole, as the JSON text this module writes (decimals exactly as the
document holds them, never through a float), beside the fields queries filter on.

Importing is all-or-nothing: the caller validates every record first (`read_history_files`),
then one transaction compares the batch with the store, fails on any record whose id the store
holds with other content (unless replacing), and writes. Every write transaction first locks the
one row of `store_state`, so two importers run one after the other and never interleave; a
writer killed mid-way leaves only an uncommitted transaction, which the database discards.
Replacing a record keeps the old version: versions are never updated or deleted.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from checker.diagnostics import BcmError, Diagnostic
from checker.documents import PolicyChange

if TYPE_CHECKING:
    from alembic.config import Config

    from checker.api import History

DEFAULT_FILE = "bcm.db"
URL_VARIABLE = "BCM_DATABASE_URL"

Progress = Callable[[int, int], None]  # records written so far, records to write

_CHUNK = 500  # rows per statement: well under SQLite's limit on bound parameters
_MIGRATION_LOCK = 0x62636D  # "bcm": the advisory lock PostgreSQL migrations take

# --- the schema, as the migrations create it --------------------------------------------------

metadata = sa.MetaData()

store_state = sa.Table(
    "store_state",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
)

policy_changes = sa.Table(
    "policy_changes",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("jurisdiction", sa.String(2), nullable=False, index=True),
    sa.Column("area", sa.String(32), nullable=False, index=True),
    sa.Column("target", sa.String(), nullable=False, index=True),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("effective_on", sa.Date, nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, index=True),
    sa.Column("document", sa.Text, nullable=False),
    sa.Index("ix_policy_changes_scope", "jurisdiction", "area", "target", "effective_on"),
)

policy_change_versions = sa.Table(
    "policy_change_versions",
    metadata,
    sa.Column("id", sa.String(), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("revision", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)

# --- records as JSON text -----------------------------------------------------------------------


def record_json(record: PolicyChange, indent: int | None = None) -> str:
    """A record as JSON (one line, or indented), in the spec's field order, every number
    exactly as held.

    pydantic's own JSON writes decimals as strings, which a document may not hold; the standard
    library writes them through float. This writer does neither.
    """
    return _json_text(record.model_dump(mode="python"), indent)


def json_text(value: Any, indent: int | None = None) -> str:
    """Any JSON-ready value (decimals, dates and enums included) as JSON text, numbers exact."""
    return _json_text(value, indent)


def _json_text(value: Any, indent: int | None = None, depth: int = 0) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return _json_text(value.value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal | float):
        if not (value.is_finite() if isinstance(value, Decimal) else value == value):
            raise ValueError(f"{value} is not a number JSON can hold")
        return str(value) if isinstance(value, Decimal) else repr(value)
    if isinstance(value, dt.datetime):
        return json.dumps(value.isoformat())
    if isinstance(value, dt.date):
        return f'"{value.isoformat()}"'
    if isinstance(value, Mapping | list | tuple):
        if isinstance(value, Mapping):
            opening, closing = "{", "}"
            sep = ": " if indent is not None else ":"
            items = [
                f"{_json_text(str(_plain(k)))}{sep}{_json_text(v, indent, depth + 1)}"
                for k, v in value.items()
            ]
        else:
            opening, closing = "[", "]"
            items = [_json_text(v, indent, depth + 1) for v in value]
        if indent is None or not items:
            return opening + ",".join(items) + closing
        inner = "\n" + " " * (indent * (depth + 1))
        return opening + inner + ("," + inner).join(items) + "\n" + " " * (indent * depth) + closing
    raise ValueError(f"a value of type {type(value).__name__} cannot be stored as JSON")


def _plain(key: Any) -> Any:
    return key.value if isinstance(key, Enum) else key


def record_from_json(text: str) -> PolicyChange:
    """A record from the JSON text the store holds (decimals read as decimals)."""
    return PolicyChange.model_validate(json.loads(text, parse_float=Decimal))


def differing_fields(old: PolicyChange, new: PolicyChange) -> list[str]:
    """The field paths whose values differ, e.g. `magnitude`, `rationale.evidence[0].value`."""
    out: list[str] = []
    _diff(old.model_dump(mode="python"), new.model_dump(mode="python"), "", out)
    return out


def _diff(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            name = str(_plain(key))
            _diff(a.get(key), b.get(key), f"{path}.{name}" if path else name, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for n, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}[{n}]", out)
    elif a != b:
        out.append(path or "(document)")


# --- where the store is -----------------------------------------------------------------------


def resolve_url(url: str | None = None) -> str:
    """The store's SQLAlchemy URL: the one given, else $BCM_DATABASE_URL, else ./bcm.db.

    A plain path means an SQLite file; `postgresql://` means PostgreSQL through psycopg 3 (the
    driver bcm installs).
    """
    raw = url or os.environ.get(URL_VARIABLE) or DEFAULT_FILE
    if "://" not in raw:
        return f"sqlite:///{raw}"
    for plain in ("postgresql://", "postgres://"):
        if raw.startswith(plain):
            return "postgresql+psycopg://" + raw[len(plain) :]
    return raw


def records_for(jurisdictions: Iterable[str], url: str | None = None) -> list[PolicyChange]:
    """The stored records of the jurisdictions, for a check given no history files: from the
    store named by `url` or $BCM_DATABASE_URL, or ./bcm.db when it exists; none without a
    store."""
    found = configured_url(url)
    if found is None:
        return []
    with Store(found, create=False) as store:
        return [r for j in sorted(set(jurisdictions)) for r in store.records(jurisdiction=j)]


def configured_url(url: str | None = None) -> str | None:
    """The store to read when a command was given no history files, or None when there is none:
    a store named by --db or $BCM_DATABASE_URL, or ./bcm.db when that file exists."""
    if url or os.environ.get(URL_VARIABLE):
        return resolve_url(url)
    return resolve_url(DEFAULT_FILE) if Path(DEFAULT_FILE).is_file() else None


def display_url(url: str) -> str:
    """The URL as it may be shown: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite store, or None for another database (or an in-memory one)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(str(parsed.database))


# --- migrations -------------------------------------------------------------------------------


def migration_config(connection: Connection | None = None) -> Config:
    """Alembic's configuration for the migrations shipped in the package: no alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["connection"] = connection
    return config


_head_lock = threading.Lock()
_heads: dict[str, tuple[str, frozenset[str]]] = {}


def _schema_head() -> tuple[str, frozenset[str]]:
    """The newest schema revision and every revision this bcm knows (read once per process)."""
    with _head_lock:
        if "head" not in _heads:
            from alembic.script import ScriptDirectory

            scripts = ScriptDirectory.from_config(migration_config())
            head = scripts.get_current_head()
            assert head is not None, "checker/migrations/versions holds no revision"
            known = frozenset(s.revision for s in scripts.walk_revisions())
            _heads["head"] = (head, known)
        return _heads["head"]


# --- results ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportResult:
    """What an import did: ids added, replaced (old version kept) and already present."""

    added: tuple[str, ...]
    replaced: tuple[str, ...]
    unchanged: tuple[str, ...]
    revision: int  # the store's revision after the import

    @property
    def changed(self) -> bool:
        return bool(self.added or self.replaced)

    def summary(self) -> str:
        total = len(self.added) + len(self.replaced) + len(self.unchanged)
        return (
            f"{total} record{'s' if total != 1 else ''} read: {len(self.added)} added, "
            f"{len(self.replaced)} replaced, {len(self.unchanged)} unchanged "
            f"(store revision {self.revision})"
        )


@dataclass(frozen=True)
class RecordVersion:
    """One version of a record, as it was imported."""

    version: int  # 1 for the first import, then one more per replacement
    revision: int  # the store revision that wrote it
    recorded_at: dt.datetime  # UTC
    record: PolicyChange
    current: bool


# --- the store --------------------------------------------------------------------------------


def _problem(code: str, message: str, help_text: str | None = None) -> BcmError:
    return BcmError([Diagnostic(code, message, help=help_text)])


def _reason(err: Exception) -> str:
    text = str(err.orig) if isinstance(err, DBAPIError) and err.orig is not None else str(err)
    return text.strip().splitlines()[0] if text.strip() else type(err).__name__


class Store:
    """The policy history in a database.

        store = Store()                      # ./bcm.db, or $BCM_DATABASE_URL
        store = Store("postgresql+psycopg://bcm@127.0.0.1:5432/bcm")
        store.import_records(records)        # all or nothing
        store.records(jurisdiction="JP", area="entry_stay", target="trainees")

    A Store may be shared by threads; each call uses its own connection. With `create=False`
    an SQLite store must exist already (a reader should not leave an empty file behind).
    """

    def __init__(self, url: str | None = None, *, create: bool = True, busy_timeout: float = 60.0):
        self.url = resolve_url(url)
        path = sqlite_path(self.url)
        if not create and path is not None and not path.is_file():
            raise _problem(
                "H001",
                f"there is no history store at {path}",
                f"import records first: bcm history import FILE...{_db_option(url)}",
            )
        self.busy_timeout = busy_timeout
        self._history_lock = threading.Lock()
        self._histories: dict[str, tuple[int, History]] = {}
        try:
            self._engine = self._create_engine()
            self._migrate()
        except BcmError:
            raise
        except (SQLAlchemyError, OSError) as err:
            raise _problem(
                "H001",
                f"cannot open the history store {display_url(self.url)}: {_reason(err)}",
                "check --db or $BCM_DATABASE_URL: an SQLite file path, or "
                "postgresql+psycopg://USER@HOST:PORT/DATABASE",
            ) from None

    @property
    def is_sqlite(self) -> bool:
        return self._engine.dialect.name == "sqlite"

    def _create_engine(self) -> Engine:
        try:
            url = make_url(self.url)
        except ArgumentError:
            raise _problem(
                "H001",
                f"`{self.url}` is not a database URL",
                "write an SQLite file path, or postgresql+psycopg://USER@HOST:PORT/DATABASE",
            ) from None
        try:
            if url.get_backend_name() != "sqlite":
                return sa.create_engine(url, pool_pre_ping=True)
            engine = sa.create_engine(url, connect_args={"timeout": self.busy_timeout})
        except NoSuchModuleError:
            raise _problem(
                "H001",
                f"bcm cannot store history in `{url.get_backend_name()}` databases",
                "use SQLite (a file path) or PostgreSQL (postgresql+psycopg://...)",
            ) from None
        path = sqlite_path(self.url)
        if path is not None and not path.parent.is_dir():
            raise _problem(
                "H001",
                f"cannot create the history store {path}: the folder {path.parent} does not exist",
            )

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # The driver's own transaction handling issues BEGIN only before DML; SQLAlchemy's
            # documented recipe: turn it off and begin transactions ourselves (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # In WAL mode a commit is durable against a killed process at NORMAL; FULL only
            # adds safety against power loss, at a cost on every import.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            # Writers take SQLite's write lock when they begin, so two importers queue up
            # instead of failing on a lock upgrade; readers stay deferred and read a snapshot.
            write = connection.get_execution_options().get("bcm_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    def _migrate(self) -> None:
        head, known = _schema_head()
        with self._engine.connect() as conn, conn.begin():
            current = self._schema_revision(conn)
        if current == head:
            return
        with self._engine.connect() as conn:
            conn.execution_options(bcm_write=True)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                    )
                current = self._schema_revision(conn)
                if current is not None and current not in known:
                    raise _problem(
                        "H002",
                        f"the history store {display_url(self.url)} has schema revision "
                        f"`{current}`, which this bcm does not know",
                        "a newer bcm wrote it: upgrade bcm to read it",
                    )
                if current != head:
                    from alembic import command

                    command.upgrade(migration_config(conn), "head")

    @staticmethod
    def _schema_revision(conn: Connection) -> str | None:
        from alembic.runtime.migration import MigrationContext

        return MigrationContext.configure(conn).get_current_revision()

    # --- transactions

    @contextmanager
    def _reading(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def _writing(self) -> Iterator[tuple[Connection, int]]:
        """A write transaction holding the store's lock; yields the revision it started from."""
        try:
            with self._engine.connect() as conn:
                conn.execution_options(bcm_write=True)
                with conn.begin():
                    revision = conn.execute(
                        sa.select(store_state.c.revision)
                        .where(store_state.c.id == 1)
                        .with_for_update()
                    ).scalar_one()
                    yield conn, int(revision)
        except sa.exc.OperationalError as err:
            if "locked" in _reason(err) or "busy" in _reason(err):
                raise _problem(
                    "H004",
                    f"the history store {display_url(self.url)} stayed locked by another "
                    f"writer for {self.busy_timeout:g} s; nothing was written",
                    "wait for the other import to finish, then run this one again",
                ) from None
            raise

    # --- writing

    def import_records(
        self,
        records: Iterable[PolicyChange],
        replace: bool = False,
        *,
        progress: Progress | None = None,
    ) -> ImportResult:
        """Write validated records in one transaction: all of them or, on any problem, none.

        A record identical to the store's is left alone; one whose id the store holds with
        other content is an error naming the id and the fields that differ, unless `replace`,
        which makes it the current version and keeps the old one.
        """
        batch = _distinct(records)
        texts = {record.id: record_json(record) for record in batch}
        ids = list(texts)
        with self._writing() as (conn, revision):
            stored = self._current(conn, ids)
            added: list[str] = []
            replaced: list[str] = []
            unchanged: list[str] = []
            conflicts: list[Diagnostic] = []
            for record in batch:
                held = stored.get(record.id)
                if held is None:
                    added.append(record.id)
                    continue
                old = record_from_json(held[1])
                if texts[record.id] == held[1] or old == record_from_json(texts[record.id]):
                    unchanged.append(record.id)
                elif replace:
                    replaced.append(record.id)
                else:
                    conflicts.append(_conflict(record.id, differing_fields(old, record)))
            if conflicts:
                raise BcmError(conflicts)
            if not added and not replaced:
                return ImportResult((), (), tuple(unchanged), revision)
            revision += 1
            self._write(conn, batch, texts, stored, set(replaced), revision, progress)
            conn.execute(
                sa.update(store_state).where(store_state.c.id == 1).values(revision=revision)
            )
        return ImportResult(tuple(added), tuple(replaced), tuple(unchanged), revision)

    def _current(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[int, str]]:
        out: dict[str, tuple[int, str]] = {}
        t = policy_changes
        for start in range(0, len(ids), _CHUNK):
            rows = conn.execute(
                sa.select(t.c.id, t.c.version, t.c.document).where(
                    t.c.id.in_(ids[start : start + _CHUNK])
                )
            )
            out.update((row.id, (row.version, row.document)) for row in rows)
        return out

    @staticmethod
    def _write(
        conn: Connection,
        batch: Sequence[PolicyChange],
        texts: Mapping[str, str],
        stored: Mapping[str, tuple[int, str]],
        replaced: set[str],
        revision: int,
        progress: Progress | None,
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        changes = [r for r in batch if r.id not in stored or r.id in replaced]
        t = policy_changes
        for start in range(0, len(changes), _CHUNK):
            chunk = changes[start : start + _CHUNK]
            versions = []
            new_rows = []
            for record in chunk:
                version = stored[record.id][0] + 1 if record.id in stored else 1
                row = {
                    "id": record.id,
                    "jurisdiction": record.jurisdiction,
                    "area": record.area.value,
                    "target": record.target,
                    "status": record.status.value,
                    "effective_on": record.effective_on,
                    "version": version,
                    "revision": revision,
                    "document": texts[record.id],
                }
                versions.append(
                    {
                        "id": record.id,
                        "version": version,
                        "revision": revision,
                        "recorded_at": now,
                        "document": texts[record.id],
                    }
                )
                if record.id in stored:
                    conn.execute(sa.update(t).where(t.c.id == record.id).values(**row))
                else:
                    new_rows.append(row)
            conn.execute(sa.insert(policy_change_versions), versions)
            if new_rows:
                conn.execute(sa.insert(t), new_rows)
            if progress is not None:
                progress(start + len(chunk), len(changes))

    # --- reading

    def records(
        self,
        jurisdiction: str | None = None,
        area: str | None = None,
        target: str | None = None,
        status: str | None = None,
        effective_from: dt.date | str | None = None,
        effective_to: dt.date | str | None = None,
    ) -> list[PolicyChange]:
        """The current records that match, in date order (then id); the dates are inclusive."""
        return [
            record_from_json(text)
            for text in self._documents(
                jurisdiction, area, target, status, effective_from, effective_to
            )
        ]

    def _documents(
        self,
        jurisdiction: str | None = None,
        area: str | None = None,
        target: str | None = None,
        status: str | None = None,
        effective_from: dt.date | str | None = None,
        effective_to: dt.date | str | None = None,
    ) -> list[str]:
        t = policy_changes
        query = sa.select(t.c.document).order_by(t.c.effective_on, t.c.id)
        for column, value in (
            (t.c.jurisdiction, jurisdiction),
            (t.c.area, area),
            (t.c.target, target),
            (t.c.status, status),
        ):
            if value is not None:
                query = query.where(column == str(getattr(value, "value", value)))
        if effective_from is not None:
            query = query.where(t.c.effective_on >= _date(effective_from))
        if effective_to is not None:
            query = query.where(t.c.effective_on <= _date(effective_to))
        with self._reading() as conn:
            return [str(text) for text in conn.execute(query).scalars()]

    def get(self, id: str) -> PolicyChange | None:
        """The current version of a record, or None when the store holds no such id."""
        t = policy_changes
        with self._reading() as conn:
            text = conn.execute(sa.select(t.c.document).where(t.c.id == id)).scalar_one_or_none()
        return None if text is None else record_from_json(text)

    def versions(self, id: str) -> list[RecordVersion]:
        """Every version of a record, oldest first; empty when the store holds no such id."""
        v = policy_change_versions
        with self._reading() as conn:
            rows = conn.execute(sa.select(v).where(v.c.id == id).order_by(v.c.version)).all()
        last = rows[-1].version if rows else None
        return [
            RecordVersion(
                version=row.version,
                revision=int(row.revision),
                recorded_at=_utc(row.recorded_at),
                record=record_from_json(row.document),
                current=row.version == last,
            )
            for row in rows
        ]

    def export(self, stream: TextIO, **filters: Any) -> int:
        """Write the current records as JSON Lines (date order); `bcm history import` reads
        them back to the same store. Takes the filters of `records`; returns the count."""
        documents = self._documents(**filters)
        for text in documents:
            stream.write(text + "\n")
        return len(documents)

    def count(self) -> int:
        with self._reading() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(policy_changes)).scalar_one()
            )

    def revision(self) -> int:
        """A counter that changes whenever the store's records change (0 for an empty store)."""
        with self._reading() as conn:
            return int(
                conn.execute(
                    sa.select(store_state.c.revision).where(store_state.c.id == 1)
                ).scalar_one()
            )

    # --- the engine's resident history

    def history(self, jurisdiction: str) -> History:
        """The records of a jurisdiction as a `checker.api.History`, kept resident in the
        engine across checks and refreshed when the store changes: records added since are
        appended (the engine asserts only those), a replaced record makes a new History."""
        from checker.api import History

        t = policy_changes
        with self._history_lock:
            cached = self._histories.get(jurisdiction)
            with self._reading() as conn:
                revision = int(
                    conn.execute(
                        sa.select(store_state.c.revision).where(store_state.c.id == 1)
                    ).scalar_one()
                )
                if cached is not None and cached[0] == revision:
                    return cached[1]
                changes = (
                    conn.execute(
                        sa.select(t.c.id, t.c.jurisdiction, t.c.version, t.c.document).where(
                            t.c.revision > cached[0]
                        )
                    ).all()
                    if cached is not None
                    else []
                )
            if cached is not None:
                resident = cached[1]
                known = {record.id for record in resident.records}
                # Only new records can be appended; a replaced one (version > 1), wherever it
                # was or is now, means the resident history holds a stale version.
                if all(row.version == 1 and row.id not in known for row in changes):
                    resident.add(
                        record_from_json(row.document)
                        for row in changes
                        if row.jurisdiction == jurisdiction
                    )
                    self._histories[jurisdiction] = (revision, resident)
                    return resident
            fresh = History(self.records(jurisdiction=jurisdiction))
            self._histories[jurisdiction] = (revision, fresh)
            return fresh

    # --- lifetime

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({display_url(self.url)!r})"


def _db_option(url: str | None) -> str:
    return f" --db {url}" if url else ""


def _distinct(records: Iterable[PolicyChange]) -> list[PolicyChange]:
    """The batch without repeats; two different records with one id are an error."""
    seen: dict[str, PolicyChange] = {}
    problems: list[Diagnostic] = []
    for n, record in enumerate(records):
        held = seen.get(record.id)
        if held is None:
            seen[record.id] = record
        elif held != record:
            problems.append(
                Diagnostic(
                    "D107",
                    f"two different history records share the id `{record.id}` "
                    f"(fields that differ: {_field_list(differing_fields(held, record))})",
                    path=f"history[{n}].id",
                    help="ids are unique within a history; give the later version its own id",
                )
            )
    if problems:
        raise BcmError(problems)
    return list(seen.values())


def _conflict(id: str, fields: list[str]) -> Diagnostic:
    return Diagnostic(
        "H003",
        f"the store already holds `{id}` with different content "
        f"(fields that differ: {_field_list(fields)})",
        help="import with --replace to make this the current version (the old one is kept), "
        "or give the record a new id",
    )


def _field_list(fields: list[str]) -> str:
    shown = ", ".join(f"`{f}`" for f in fields[:8])
    return shown + (f" and {len(fields) - 8} more" if len(fields) > 8 else "")


def _date(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(value)


def _utc(value: dt.datetime) -> dt.datetime:
    # SQLite hands back naive datetimes; every time the store writes is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
