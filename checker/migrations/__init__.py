"""Alembic migrations of the history store's schema, shipped inside the package.

`checker.store.Store` runs them programmatically whenever it opens a store, so an installed bcm
migrates its own databases; no alembic.ini is needed. To start a new revision in a checkout:

    .venv/bin/python -c "from alembic import command; from checker.store import migration_config; \
command.revision(migration_config(), 'what changes')"

then write its `upgrade` (and `downgrade`) with `op`, for SQLite and PostgreSQL alike.
"""
