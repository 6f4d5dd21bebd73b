"""Alembic's environment for the history store.

The store hands Alembic the connection it already holds, inside the transaction that took the
migration lock, so a migration and the check that it is needed cannot race with another process.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

config = context.config
connection: Connection | None = config.attributes.get("connection")

if connection is not None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
else:
    # Only for a developer running the `alembic` command by hand against a URL.
    url = context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("give the store's URL: alembic -x url=sqlite:///bcm.db ...")
    engine = create_engine(url)
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
