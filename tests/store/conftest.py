"""Fixtures for the history store: an empty store on SQLite, and on PostgreSQL when
BCM_TEST_POSTGRES_URL names a server (`make test` starts one when CI=true or
BCM_TEST_POSTGRES=1; scripts/postgres.sh starts one by hand).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from checker.documents import PolicyChange
from checker.loading import load_history

from .records import record, record_data

__all__ = ["record", "record_data"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "jp"
HISTORY = EXAMPLES / "history.jsonl"

POSTGRES_URL = os.environ.get("BCM_TEST_POSTGRES_URL")
NO_POSTGRES = (
    "no PostgreSQL server for the store tests: set BCM_TEST_POSTGRES_URL, or run "
    "`make test` with CI=true or BCM_TEST_POSTGRES=1 (it starts one with scripts/postgres.sh)"
)


def _backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not POSTGRES_URL:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must test PostgreSQL too: {NO_POSTGRES}")
        pytest.skip(NO_POSTGRES)
    return str(request.param)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty store: an SQLite file, or a schema of its own on PostgreSQL."""
    if _backend(request) == "sqlite":
        yield f"sqlite:///{tmp_path / 'bcm.db'}"
        return
    assert POSTGRES_URL is not None
    yield from postgres_schema(POSTGRES_URL)


def postgres_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema (dropped afterwards): cheaper than
    a database per test, and the store's tables, alembic_version included, land in it."""
    import sqlalchemy as sa

    schema = f"bcm_store_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        parsed = sa.engine.make_url(url)
        scoped = parsed.update_query_dict({"options": f"-csearch_path={schema}"})
        yield scoped.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(scope="session")
def examples() -> list[PolicyChange]:
    """The 29 real Japanese records of examples/jp/history.jsonl."""
    return load_history(str(HISTORY))


def write_jsonl(path: Path, items: list[dict[str, Any]]) -> Path:
    path.write_text(
        "".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items), encoding="utf-8"
    )
    return path
