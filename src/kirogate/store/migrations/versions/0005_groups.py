"""credential groups: named subsets of credentials a client key can be bound to.

Revision ID: 0005_groups
Revises: 0004_revisions
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_groups"
down_revision = "0004_revisions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credential_groups",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("description", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "credential_group_members",
        sa.Column(
            "group_name",
            sa.String(64),
            sa.ForeignKey(
                "credential_groups.name", name="fk_group_members_group", ondelete="CASCADE"
            ),
            primary_key=True,
        ),
        sa.Column(
            "credential_id",
            sa.Integer,
            sa.ForeignKey("credentials.id", name="fk_group_members_credential", ondelete="CASCADE"),
            primary_key=True,
        ),
    )
    op.create_index(
        "ix_credential_group_members_credential_id",
        "credential_group_members",
        ["credential_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_credential_group_members_credential_id", table_name="credential_group_members"
    )
    op.drop_table("credential_group_members")
    op.drop_table("credential_groups")
