"""The policy history: current records, every version of each, and the store's revision.

Revision ID: 0001
Revises:
Create Date: 2026-11-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # One row. Every write transaction locks it first (so importers run one after another, never
    # interleaved) and bumps `revision` when it changed anything (so readers can tell cheaply
    # whether the history they hold is current).
    op.create_table(
        "store_state",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
    )
    op.bulk_insert(
        sa.table("store_state", sa.column("id", sa.Integer), sa.column("revision", sa.BigInteger)),
        [{"id": 1, "revision": 0}],
    )
    # The current version of each record: the whole document as JSON text (exact decimals,
    # written by the store, never re-encoded by the database), and the fields queries filter on.
    op.create_table(
        "policy_changes",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("area", sa.String(32), nullable=False),
        sa.Column("target", sa.String(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("effective_on", sa.Date, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    for column in ("jurisdiction", "area", "target", "status", "effective_on", "revision"):
        op.create_index(f"ix_policy_changes_{column}", "policy_changes", [column])
    op.create_index(
        "ix_policy_changes_scope",
        "policy_changes",
        ["jurisdiction", "area", "target", "effective_on"],
    )
    # Every version ever imported, the current one included; never updated, never deleted.
    op.create_table(
        "policy_change_versions",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("revision", sa.BigInteger, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_change_versions")
    op.drop_table("policy_changes")
    op.drop_table("store_state")
