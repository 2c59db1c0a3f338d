"""Reading the request log: filtered pages by id cursor, one row with its bodies, deletion
by age, and the statistics (per time bucket and per key, credential and model), computed in
the database on SQLite and PostgreSQL alike.

Percentiles are nearest-rank on both backends (the smallest value with at least ``p`` % of
the values at or below it), so both give the same figures for the same rows: PostgreSQL's
``percentile_disc``, and on SQLite (which has no percentile aggregate) the ``ceil(p * n)``-th
of the bucket's values sorted once into a temporary table, picked by rowid.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from kirogate.store.base import StoreBase
from kirogate.store.requestlog import RequestLogEntry, _entry
from kirogate.store.schema import request_log_bodies as bodies_table
from kirogate.store.schema import request_logs as table

Bucket = Literal["minute", "hour", "day"]
BUCKETS: tuple[Bucket, ...] = ("minute", "hour", "day")
PERCENTILES = (50, 95, 99)
_SQLITE_PREFIX = {"minute": 16, "hour": 13, "day": 10}  # of "YYYY-MM-DD HH:MM:SS.ffffff"
EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class LogFilter:
    """Which rows: every given field must match (``None``: any)."""

    since: datetime | None = None  # at or after
    until: datetime | None = None  # before
    status: int | None = None
    status_class: int | None = None  # 2, 4, 5: the 2xx, 4xx, 5xx answers
    model: str | None = None  # the model asked for or the one sent
    key_id: int | None = None
    key_name: str | None = None
    credential_id: int | None = None
    client_address: str | None = None
    endpoint: str | None = None


def _conditions(where: LogFilter) -> list[sa.ColumnElement[bool]]:
    c = table.c
    found: list[sa.ColumnElement[bool]] = []
    if where.since is not None:
        found.append(c.at >= where.since)
    if where.until is not None:
        found.append(c.at < where.until)
    if where.status is not None:
        found.append(c.status == where.status)
    if where.status_class is not None:
        low = where.status_class * 100
        found.append(c.status.between(low, low + 99))
    if where.model is not None:
        found.append(sa.or_(c.model == where.model, c.model_asked == where.model))
    if where.key_id is not None:
        found.append(c.api_key_id == where.key_id)
    if where.key_name is not None:
        found.append(c.api_key_name == where.key_name)
    if where.credential_id is not None:
        found.append(c.credential_id == where.credential_id)
    if where.client_address is not None:
        found.append(c.client_address == where.client_address)
    if where.endpoint is not None:
        found.append(c.endpoint == where.endpoint)
    return found


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)


def _sum(column: sa.ColumnElement[Any]) -> sa.ColumnElement[Any]:
    return sa.func.coalesce(sa.func.sum(column), 0)


def _bucket_start(value: Any) -> str:
    """A bucket's start as RFC 3339 UTC, from SQLite's text prefix or PostgreSQL's timestamp."""
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    else:
        text = str(value)
        moment = datetime.fromisoformat(text + ":00" if len(text) == 13 else text)
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat().replace("+00:00", "Z")


def _counts(src: sa.FromClause, grouped: bool) -> list[sa.ColumnElement[Any]]:
    c = src.c
    return [
        *([c.g] if grouped else []),
        sa.func.count().label("requests"),
        _count_if(c.status.between(400, 499)).label("errors_4xx"),
        _count_if(c.status >= 500).label("errors_5xx"),
        _sum(c.input_tokens).label("input_tokens"),
        _sum(c.output_tokens).label("output_tokens"),
    ]


# The columns the statistics read, with the bucket as ``g``.
_STAT_COLUMNS = (
    "status",
    "error_type",
    "input_tokens",
    "output_tokens",
    "duration_ms",
    "ttft_ms",
    "api_key_id",
    "api_key_name",
    "credential_id",
    "model",
)
# SQLite: the range's rows copied once into a compact temporary table, which every pass of
# the statistics then scans in order instead of looking each row up through the index on
# ``at`` (about twice as fast on a month of a million rows).
_STAT_ROWS = sa.Table(
    "kg_stat_rows",
    sa.MetaData(),
    sa.Column("g", sa.String),
    *(sa.Column(name, table.c[name].type) for name in _STAT_COLUMNS),
    prefixes=["TEMPORARY"],
)


class LogQueryMixin(StoreBase):
    async def request_log_page(
        self, where: LogFilter, *, before_id: int | None = None, limit: int = 50
    ) -> list[RequestLogEntry]:
        """Up to ``limit`` matching rows, newest first, with ids below ``before_id``."""
        conditions = _conditions(where)
        if before_id is not None:
            conditions.append(table.c.id < before_id)
        query = sa.select(table).where(*conditions).order_by(table.c.id.desc()).limit(limit)
        async with self._reading() as conn:
            return [_entry(row) for row in await conn.execute(query)]

    async def iter_request_logs(self, where: LogFilter) -> AsyncIterator[RequestLogEntry]:
        """Every matching row, newest first, read a batch at a time (for exports)."""
        before: int | None = None
        while True:
            page = await self.request_log_page(where, before_id=before, limit=EXPORT_BATCH)
            for entry in page:
                yield entry
            if len(page) < EXPORT_BATCH:
                return
            before = page[-1].id

    async def request_log(self, log_id: int) -> RequestLogEntry | None:
        """One row with its recorded bodies (``None`` when there is no such row)."""
        query = (
            sa.select(table, bodies_table.c.request_body, bodies_table.c.response_body)
            .select_from(table.outerjoin(bodies_table, bodies_table.c.log_id == table.c.id))
            .where(table.c.id == log_id)
        )
        async with self._reading() as conn:
            row = (await conn.execute(query)).first()
        if row is None:
            return None
        entry = _entry(row)
        return RequestLogEntry(
            **{
                **{name: getattr(entry, name) for name in entry.__dataclass_fields__},
                "request_body": row.request_body,
                "response_body": row.response_body,
            }
        )

    async def delete_request_logs(self, before: datetime) -> int:
        """Delete the rows (and their bodies) older than ``before``; how many rows went."""
        async with self._writing() as conn:
            await conn.execute(sa.delete(bodies_table).where(bodies_table.c.at < before))
            result = await conn.execute(sa.delete(table).where(table.c.at < before))
            return int(result.rowcount or 0)

    def _bucket(self, bucket: Bucket) -> sa.ColumnElement[Any]:
        if self.dialect == "sqlite":
            return sa.func.substr(table.c.at, 1, _SQLITE_PREFIX[bucket], type_=sa.String)
        utc = sa.func.timezone("UTC", table.c.at, type_=sa.DateTime)
        return sa.func.date_trunc(bucket, utc, type_=sa.DateTime)

    async def request_log_stats(self, where: LogFilter, bucket: Bucket) -> dict[str, Any]:
        """Per bucket: requests, errors by class and type, tokens, latency and TTFT
        percentiles; the same overall; totals per key, credential and model."""
        chosen = sa.select(
            self._bucket(bucket).label("g"), *(table.c[name] for name in _STAT_COLUMNS)
        ).where(*_conditions(where))
        async with self._reading() as conn:
            if self.dialect != "sqlite":
                return await self._stats(conn, chosen.subquery("chosen"), bucket)
            await conn.execute(sa.text("DROP TABLE IF EXISTS temp.kg_stat_rows"))
            await conn.execute(sa.schema.CreateTable(_STAT_ROWS))
            try:
                names = ["g", *_STAT_COLUMNS]
                await conn.execute(sa.insert(_STAT_ROWS).from_select(names, chosen))
                return await self._stats(conn, _STAT_ROWS, bucket)
            finally:
                await conn.execute(sa.text("DROP TABLE IF EXISTS temp.kg_stat_rows"))

    async def _stats(self, conn: Any, src: sa.FromClause, bucket: Bucket) -> dict[str, Any]:
        c = src.c
        rows = await conn.execute(sa.select(*_counts(src, True)).group_by(c.g).order_by(c.g))
        buckets: dict[Any, dict[str, Any]] = {row.g: _numbers(row) for row in rows}
        total = _numbers((await conn.execute(sa.select(*_counts(src, False)))).one())
        types = await conn.execute(
            sa.select(c.g, c.error_type, sa.func.count().label("n"))
            .where(c.status >= 400)
            .group_by(c.g, c.error_type)
        )
        for row in types:
            if row.g in buckets:
                kind = row.error_type or "unknown"
                buckets[row.g]["errors_by_type"][kind] = row.n
                total["errors_by_type"][kind] = total["errors_by_type"].get(kind, 0) + row.n
        for name, column in (("latency_ms", c.duration_ms), ("ttft_ms", c.ttft_ms)):
            for key, values in await self._percentiles(conn, column, c.g):
                if key in buckets:
                    buckets[key][name] = values
            for _, values in await self._percentiles(conn, column, None):
                total[name] = values
        per_key = await _totals(conn, src, c.api_key_id, c.api_key_name)
        per_credential = await _totals(conn, src, c.credential_id)
        per_model = await _totals(conn, src, c.model)
        return {
            "bucket": bucket,
            "buckets": [{"start": _bucket_start(key), **value} for key, value in buckets.items()],
            "total": total,
            "per_key": [
                {"key_id": row[0], "key_name": row[1], **numbers} for row, numbers in per_key
            ],
            "per_credential": [
                {"credential_id": row[0], **numbers} for row, numbers in per_credential
            ],
            "per_model": [{"model": row[0], **numbers} for row, numbers in per_model],
        }

    async def _percentiles(
        self,
        conn: Any,
        column: sa.ColumnElement[Any],
        group: sa.ColumnElement[Any] | None,
    ) -> list[tuple[Any, dict[str, float | None]]]:
        """``(group, {"p50": ..., "p95": ..., "p99": ...})`` of ``column`` (nearest rank)."""
        present: list[sa.ColumnElement[bool]] = [column.is_not(None)]
        if self.dialect == "sqlite":
            return await _sqlite_percentiles(conn, column, group, present)
        picks = [
            sa.func.percentile_disc(p / 100).within_group(column).label(f"p{p}")
            for p in PERCENTILES
        ]
        if group is None:
            query = sa.select(sa.literal(0).label("g"), *picks).where(*present)
        else:
            query = sa.select(group.label("g"), *picks).where(*present).group_by(group)
        result = await conn.execute(query)
        return [
            (row.g, {f"p{p}": _ms(getattr(row, f"p{p}")) for p in PERCENTILES}) for row in result
        ]


# SQLite's window functions cost ~8 us a row; sorting the values once into a temporary
# table costs a third of that: its rowids are then the ranks, each bucket's values a run.
_RANKED = sa.Table(
    "kg_ranked_values",
    sa.MetaData(),
    sa.Column("g", sa.String),
    sa.Column("v", sa.Float),
    prefixes=["TEMPORARY"],
)
_PICK = ", ".join(
    f"(SELECT v FROM kg_ranked_values WHERE rowid = b.f + max(1, (b.n * {p} + 99) / 100) - 1)"
    f" AS p{p}"
    for p in PERCENTILES
)
_PICKS = sa.text(
    f"SELECT b.g AS g, {_PICK} FROM (SELECT g, min(rowid) AS f, count(*) AS n "
    "FROM kg_ranked_values GROUP BY g) AS b"
)


async def _sqlite_percentiles(
    conn: Any,
    column: sa.ColumnElement[Any],
    group: sa.ColumnElement[Any] | None,
    present: list[sa.ColumnElement[bool]],
) -> list[tuple[Any, dict[str, float | None]]]:
    """Nearest-rank percentiles on SQLite: the values sorted by bucket into a temporary table
    (rowid = rank), then the ``ceil(p * n)``-th of each bucket's run picked by rowid."""
    key = sa.literal("all") if group is None else group
    ordered = sa.select(key.label("g"), column.label("v")).where(*present).order_by(key, column)
    await conn.execute(sa.text("DROP TABLE IF EXISTS temp.kg_ranked_values"))
    await conn.execute(sa.schema.CreateTable(_RANKED))
    try:
        await conn.execute(sa.insert(_RANKED).from_select(["g", "v"], ordered))
        rows = (await conn.execute(_PICKS)).all()
    finally:
        await conn.execute(sa.text("DROP TABLE IF EXISTS temp.kg_ranked_values"))
    return [
        (
            None if group is None else row.g,
            {f"p{p}": _ms(getattr(row, f"p{p}")) for p in PERCENTILES},
        )
        for row in rows
    ]


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def _numbers(row: Any) -> dict[str, Any]:
    return {
        "requests": int(row.requests),
        "errors": {"4xx": int(row.errors_4xx), "5xx": int(row.errors_5xx)},
        "errors_by_type": {},
        "input_tokens": int(row.input_tokens),
        "output_tokens": int(row.output_tokens),
        "latency_ms": {f"p{p}": None for p in PERCENTILES},
        "ttft_ms": {f"p{p}": None for p in PERCENTILES},
    }


async def _totals(
    conn: Any, src: sa.FromClause, *columns: sa.ColumnElement[Any]
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    """Requests, errors and tokens grouped by ``columns``, busiest first."""
    c = src.c
    query = (
        sa.select(
            *columns,
            sa.func.count().label("requests"),
            _count_if(c.status >= 400).label("errors"),
            _sum(c.input_tokens).label("input_tokens"),
            _sum(c.output_tokens).label("output_tokens"),
        )
        .group_by(*columns)
        .order_by(sa.func.count().desc())
    )
    found = []
    for row in await conn.execute(query):
        numbers = {
            "requests": int(row.requests),
            "errors": int(row.errors),
            "input_tokens": int(row.input_tokens),
            "output_tokens": int(row.output_tokens),
        }
        found.append((tuple(row[: len(columns)]), numbers))
    return found
