"""request logs: who asked what (key, address, model asked), error type, streamed; indexes for
the admin API's filters; recorded bodies in their own table.

Revision ID: 0010_logs
Revises: 0009_keys
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_logs"
down_revision = "0009_keys"
branch_labels = None
depends_on = None

_INDEXED = ("status", "api_key_id", "credential_id")


def upgrade() -> None:
    with op.batch_alter_table("request_logs") as batch:
        batch.add_column(sa.Column("model_asked", sa.String(200)))
        batch.add_column(sa.Column("api_key_name", sa.String(200)))
        batch.add_column(sa.Column("client_address", sa.String(64)))
        batch.add_column(sa.Column("error_type", sa.String(100)))
        batch.add_column(sa.Column("streamed", sa.Boolean))
    for column in _INDEXED:
        op.create_index(f"ix_request_logs_{column}", "request_logs", [column])
    op.create_table(
        "request_log_bodies",
        sa.Column(
            "log_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
        ),
        sa.Column("request_body", sa.Text),
        sa.Column("response_body", sa.Text),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_request_log_bodies_at", "request_log_bodies", ["at"])


def downgrade() -> None:
    op.drop_index("ix_request_log_bodies_at", "request_log_bodies")
    op.drop_table("request_log_bodies")
    for column in _INDEXED:
        op.drop_index(f"ix_request_logs_{column}", "request_logs")
    with op.batch_alter_table("request_logs") as batch:
        for column in ("streamed", "error_type", "client_address", "api_key_name", "model_asked"):
            batch.drop_column(column)
