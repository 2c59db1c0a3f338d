"""Client addresses: block expiry, the visitors table; proxies can be disabled.

Revision ID: 0008_addresses
Revises: 0007_audit
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_addresses"
down_revision = "0007_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("blocked_ips") as batch:
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True)))
    with op.batch_alter_table("proxies") as batch:
        batch.add_column(
            sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false())
        )
    op.create_table(
        "visitors",
        sa.Column("address", sa.String(64), primary_key=True),
        sa.Column("requests", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_visitors_last_seen", "visitors", ["last_seen"])


def downgrade() -> None:
    op.drop_index("ix_visitors_last_seen", "visitors")
    op.drop_table("visitors")
    with op.batch_alter_table("proxies") as batch:
        batch.drop_column("disabled")
    with op.batch_alter_table("blocked_ips") as batch:
        batch.drop_column("expires_at")
