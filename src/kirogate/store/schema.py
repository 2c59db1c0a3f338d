"""The tables, as SQLAlchemy Core. Migrations in ``migrations/versions`` create the same shape.

Columns named in :data:`SECRET_COLUMNS` hold Fernet ciphertext, never plaintext.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

metadata = sa.MetaData()


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every dialect (SQLite stores them naive, as UTC)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} (give a timezone-aware one)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BIGINT primary keys do not auto-increment on SQLite; INTEGER is its 64-bit rowid anyway.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _counter(name: str) -> sa.Column[Any]:
    return sa.Column(name, sa.BigInteger, nullable=False, server_default=sa.text("0"))


proxies = sa.Table(
    "proxies",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("username", sa.Text),
    sa.Column("password", sa.Text),  # encrypted
    sa.Column("label", sa.String(200)),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

credentials = sa.Table(
    "credentials",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("auth_method", sa.String(32), nullable=False),
    sa.Column("refresh_token", sa.Text),  # encrypted
    sa.Column("access_token", sa.Text),  # encrypted
    sa.Column("expires_at", UTCDateTime),
    sa.Column("profile_arn", sa.Text),
    sa.Column("client_id", sa.Text),
    sa.Column("client_secret", sa.Text),  # encrypted
    sa.Column("region", sa.String(64)),
    sa.Column("auth_region", sa.String(64)),
    sa.Column("api_region", sa.String(64)),
    sa.Column("machine_id", sa.String(128)),
    sa.Column("email", sa.String(320)),
    sa.Column("subscription_title", sa.String(200)),
    sa.Column("priority", sa.Integer, nullable=False, server_default=sa.text("0")),
    sa.Column("weight", sa.Float, nullable=False, server_default=sa.text("1.0")),
    sa.Column("proxy_url", sa.Text),  # encrypted (older rows: plaintext until opened)
    sa.Column("proxy_username", sa.Text),
    sa.Column("proxy_password", sa.Text),  # encrypted
    sa.Column(
        "proxy_id",
        sa.Integer,
        sa.ForeignKey("proxies.id", name="fk_credentials_proxy_id", ondelete="SET NULL"),
    ),
    sa.Column("kiro_api_key", sa.Text),  # encrypted
    sa.Column("endpoint", sa.String(32), nullable=False, server_default="ide"),
    sa.Column("provider", sa.String(64)),
    sa.Column("client_id_hash", sa.String(128)),
    sa.Column("token_endpoint", sa.Text),
    sa.Column("source_kind", sa.String(32), nullable=False, server_default="store"),
    sa.Column("source_path", sa.Text),
    sa.Column("source_index", sa.Integer),
    sa.Column("source_array", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("source_file_id", sa.Integer),  # the entry's id inside a kiro.rs file
    sa.Column("extra", sa.JSON),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # Pool runtime state (kirogate.pool.state.CredentialState); written behind by the cluster.
    sa.Column("disabled_reason", sa.String(64)),
    sa.Column("disabled_detail", sa.Text),
    sa.Column("cooldown_until", UTCDateTime),
    sa.Column("cooldown_reason", sa.String(64)),
    _counter("failure_count"),
    _counter("throttle_count"),
    _counter("success_count"),
    _counter("error_count"),
    sa.Column("last_used", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_error_at", UTCDateTime),
    sa.Column("remaining_share", sa.Float),
    sa.Column("usage", sa.JSON),
    sa.Column("usage_fetched_at", UTCDateTime),
    sa.UniqueConstraint("fingerprint", name="uq_credentials_fingerprint"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),
    sa.Column("prefix", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("revoked_at", UTCDateTime),
    sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
)

settings = sa.Table(
    "settings",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.JSON),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

request_logs = sa.Table(
    "request_logs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("request_id", sa.String(100), nullable=False),
    sa.Column("endpoint", sa.String(200), nullable=False),
    sa.Column("model", sa.String(200)),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("credential_id", sa.Integer),  # no foreign key: logs outlive credentials
    sa.Column("api_key_id", sa.Integer),
    sa.Column("input_tokens", sa.Integer),
    sa.Column("output_tokens", sa.Integer),
    sa.Column("duration_ms", sa.Float),
    sa.Column("ttft_ms", sa.Float),
    sa.Column("error", sa.Text),
)

blocked_ips = sa.Table(
    "blocked_ips",
    metadata,
    sa.Column("ip", sa.String(64), primary_key=True),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# What the gateway remembers between requests (service/memory.py), shared by every process:
# Responses API answers with their conversation, their output items, tool calls the upstream
# cut off. ``value`` is encrypted JSON (conversations are the users' words).
memories = sa.Table(
    "memories",
    metadata,
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

# Store bookkeeping: the key check value proving the secret key matches the stored secrets.
store_meta = sa.Table(
    "store_meta",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

SECRET_COLUMNS: dict[str, tuple[str, ...]] = {
    "credentials": (
        "refresh_token",
        "access_token",
        "client_secret",
        "proxy_password",
        "kiro_api_key",
        "proxy_url",
    ),
    "proxies": ("password",),
    "memories": ("value",),
}

# What operators changed, by topic (``keys``, ``ips``, ``settings``, ...): each change bumps
# its topic's revision, and every process polls this small table (service/changes.py) to
# reload what changed within a second, with or without Redis.
revisions = sa.Table(
    "revisions",
    metadata,
    sa.Column("topic", sa.String(64), primary_key=True),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# ---- operator API tables (each feature adds its own below, in its own block) ----

# -- request logs (admin/logs.py): the columns the log listing and the stats filter on
# (added to ``request_logs`` above by migration 0009_logs), and the recorded bodies, apart
# so that listing rows stays light.
request_logs.append_column(sa.Column("model_asked", sa.String(200)))
request_logs.append_column(sa.Column("api_key_name", sa.String(200)))
request_logs.append_column(sa.Column("client_address", sa.String(64)))
request_logs.append_column(sa.Column("error_type", sa.String(100)))
request_logs.append_column(sa.Column("streamed", sa.Boolean))
sa.Index("ix_request_logs_status", request_logs.c.status)
sa.Index("ix_request_logs_api_key_id", request_logs.c.api_key_id)
sa.Index("ix_request_logs_credential_id", request_logs.c.credential_id)

request_log_bodies = sa.Table(
    "request_log_bodies",
    metadata,
    sa.Column("log_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("request_body", sa.Text),
    sa.Column("response_body", sa.Text),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
)
