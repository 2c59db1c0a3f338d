"""Initial schema: credentials (with pool state), proxies, api_keys, settings, request_logs,
blocked_ips, store_meta.

Revision ID: 0001_initial
Revises:
Create Date: 2025-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_initial"
down_revision = None
branch_labels = None
depends_on = None

# Frozen copies of the column types: a migration must not change when schema.py does.
TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _counter(name: str) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default=sa.text("0"))


def upgrade() -> None:
    op.create_table(
        "proxies",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("username", sa.Text),
        sa.Column("password", sa.Text),
        sa.Column("label", sa.String(200)),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("auth_method", sa.String(32), nullable=False),
        sa.Column("refresh_token", sa.Text),
        sa.Column("access_token", sa.Text),
        sa.Column("expires_at", TS),
        sa.Column("profile_arn", sa.Text),
        sa.Column("client_id", sa.Text),
        sa.Column("client_secret", sa.Text),
        sa.Column("region", sa.String(64)),
        sa.Column("auth_region", sa.String(64)),
        sa.Column("api_region", sa.String(64)),
        sa.Column("machine_id", sa.String(128)),
        sa.Column("email", sa.String(320)),
        sa.Column("subscription_title", sa.String(200)),
        sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0")),
        sa.Column("weight", sa.Float, nullable=False, server_default=sa.text("1.0")),
        sa.Column("proxy_url", sa.Text),
        sa.Column("proxy_username", sa.Text),
        sa.Column("proxy_password", sa.Text),
        sa.Column(
            "proxy_id",
            sa.Integer,
            sa.ForeignKey("proxies.id", name="fk_credentials_proxy_id", ondelete="SET NULL"),
        ),
        sa.Column("kiro_api_key", sa.Text),
        sa.Column("endpoint", sa.String(32), nullable=False, server_default="ide"),
        sa.Column("provider", sa.String(64)),
        sa.Column("client_id_hash", sa.String(128)),
        sa.Column("token_endpoint", sa.Text),
        sa.Column("source_kind", sa.String(32), nullable=False, server_default="store"),
        sa.Column("source_path", sa.Text),
        sa.Column("source_index", sa.Integer),
        sa.Column("source_array", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("extra", sa.JSON),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("disabled_reason", sa.String(64)),
        sa.Column("disabled_detail", sa.Text),
        sa.Column("cooldown_until", TS),
        sa.Column("cooldown_reason", sa.String(64)),
        _counter("failure_count"),
        _counter("throttle_count"),
        _counter("success_count"),
        _counter("error_count"),
        sa.Column("last_used", TS),
        sa.Column("last_error", sa.Text),
        sa.Column("last_error_at", TS),
        sa.Column("remaining_share", sa.Float),
        sa.Column("usage", sa.JSON),
        sa.Column("usage_fetched_at", TS),
        sa.UniqueConstraint("fingerprint", name="uq_credentials_fingerprint"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("prefix", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_used_at", TS),
        sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("revoked_at", TS),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
    )
    op.create_table(
        "settings",
        sa.Column("key", sa.String(200), primary_key=True),
        sa.Column("value", sa.JSON),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "request_logs",
        sa.Column("id", BIG_ID, primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("endpoint", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200)),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("credential_id", sa.Integer),
        sa.Column("api_key_id", sa.Integer),
        sa.Column("input_tokens", sa.Integer),
        sa.Column("output_tokens", sa.Integer),
        sa.Column("duration_ms", sa.Float),
        sa.Column("ttft_ms", sa.Float),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_request_logs_at", "request_logs", ["at"])
    op.create_table(
        "blocked_ips",
        sa.Column("ip", sa.String(64), primary_key=True),
        sa.Column("reason", sa.Text),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "store_meta",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "store_meta",
        "blocked_ips",
        "request_logs",
        "settings",
        "api_keys",
        "credentials",
        "proxies",
    ):
        op.drop_table(table)
