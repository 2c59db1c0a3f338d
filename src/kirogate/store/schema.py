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
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
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
    sa.Column("expires_at", UTCDateTime),  # NULL: until unblocked
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

# Credential groups (store/groups.py): a client key bound to a group is served by its members
# only. A credential may be in several groups; deleting either side removes the membership.
credential_groups = sa.Table(
    "credential_groups",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("description", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

credential_group_members = sa.Table(
    "credential_group_members",
    metadata,
    sa.Column(
        "group_name",
        sa.String(64),
        sa.ForeignKey("credential_groups.name", name="fk_group_members_group", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "credential_id",
        sa.Integer,
        sa.ForeignKey("credentials.id", name="fk_group_members_credential", ondelete="CASCADE"),
        primary_key=True,
        index=True,
    ),
)

# Logins an operator started through the admin API (service/logins.py): their status, so any
# instance can answer for one, and, for a social login, the PKCE verifier until it is used
# (``secret``, encrypted JSON; wiped when the login finishes). ``state_hash`` is the SHA-256
# of the login's state, by which the browser's callback finds it. Rows go some minutes after
# the login ends or expires.
logins = sa.Table(
    "logins",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("provider", sa.String(32)),
    sa.Column("region", sa.String(32), nullable=False),
    sa.Column("redirect_uri", sa.Text),
    sa.Column("state_hash", sa.String(64)),
    sa.Column("secret", sa.Text),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("credential_id", sa.BigInteger),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("state_hash", name="uq_logins_state_hash"),
)
SECRET_COLUMNS["logins"] = ("secret",)

# ---- audit trail and alerts (audit helper) ----
# Every admin call that changes something: who, from where, what, on which target, with what
# outcome. ``detail`` holds allow-listed harmless fields only, never a secret.
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("address", sa.String(64)),
    sa.Column("action", sa.String(300), nullable=False),  # "POST /api/admin/keys"
    sa.Column("name", sa.String(100), nullable=False),  # the route's short name
    sa.Column("target", sa.String(200)),
    sa.Column("status", sa.Integer, nullable=False),
    sa.Column("detail", sa.JSON),
)

# Alert webhooks: the URL holds the receiver's token, so it is encrypted (SECRET_COLUMNS).
alert_webhooks = sa.Table(
    "alert_webhooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("format", sa.String(20), nullable=False),
    sa.Column("url", sa.Text, nullable=False),  # encrypted
    sa.Column("events", sa.JSON, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# One row per (alert, target) sent recently: the de-duplication window shared by every
# process on one database (Redis does it when the cluster has one).
alert_sent = sa.Table(
    "alert_sent",
    metadata,
    sa.Column("key", sa.String(300), primary_key=True),
    sa.Column("until", UTCDateTime, nullable=False),
)

SECRET_COLUMNS["alert_webhooks"] = ("url",)

# Client addresses seen recently (store/addresses.py): counted per process in memory and
# added here in batches behind the requests; rows not seen for a week are pruned.
visitors = sa.Table(
    "visitors",
    metadata,
    sa.Column("address", sa.String(64), primary_key=True),
    sa.Column("requests", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("first_seen", UTCDateTime, nullable=False),
    sa.Column("last_seen", UTCDateTime, nullable=False, index=True),
)

# -- client keys for people and teams: limits, expiry, a switch and a credential group per key,
# and what each key used per UTC day (written behind in batches, never on a request's path).
api_keys.append_column(sa.Column("limits", sa.JSON))
api_keys.append_column(sa.Column("expires_at", UTCDateTime))
api_keys.append_column(sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()))
api_keys.append_column(sa.Column("group", sa.String(64)))
api_keys.append_column(sa.Column("updated_at", UTCDateTime))

# key_id 0 counts the configured (``--api-key``) keys, which have no row in api_keys.
key_usage = sa.Table(
    "key_usage",
    metadata,
    sa.Column("key_id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("requests", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    sa.Column("last_used_at", UTCDateTime),
)

# -- request logs (admin/logs.py): the columns the log listing and the stats filter on
# (added to ``request_logs`` above by migration 0010_logs), and the recorded bodies, apart
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
