"""credentials.source_file_id: the id an entry has inside its kiro.rs credentials.json.

Revision ID: 0002_source_file_id
Revises: 0001_initial
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_source_file_id"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.add_column(sa.Column("source_file_id", sa.Integer))


def downgrade() -> None:
    with op.batch_alter_table("credentials") as batch:
        batch.drop_column("source_file_id")
