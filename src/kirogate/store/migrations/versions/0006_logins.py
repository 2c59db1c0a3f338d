"""logins: operator-started logins (device and social), readable by every instance.

Revision ID: 0006_logins
Revises: 0005_groups
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_logins"
down_revision = "0005_groups"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "logins",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("provider", sa.String(32)),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("redirect_uri", sa.Text),
        sa.Column("state_hash", sa.String(64)),
        sa.Column("secret", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("credential_id", sa.BigInteger),
        sa.Column("error", sa.Text),
        sa.UniqueConstraint("state_hash", name="uq_logins_state_hash"),
    )
    op.create_index("ix_logins_expires_at", "logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_logins_expires_at", table_name="logins")
    op.drop_table("logins")
