"""Database URLs: the default SQLite file, accepted spellings, and a password-free display form."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from kirogate.errors import ConfigError

DB_FILE_NAME = "kirogate.db"
_PG_SCHEMES = ("postgresql", "postgres")
_SQLITE_DRIVERS = ("sqlite", "sqlite+aiosqlite", "sqlite+pysqlite")


@dataclass(frozen=True, slots=True)
class DatabaseLocation:
    """A parsed database URL: the async URL to connect with and how to show it."""

    url: URL
    dialect: str  # "sqlite" | "postgresql"
    sqlite_path: Path | None  # the database file in SQLite mode

    @property
    def display_url(self) -> str:
        return mask_url(self.url)


def mask_url(url: URL | str) -> str:
    """The URL with its password replaced by ``***`` (unparseable input is hidden whole)."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparseable database URL>"
    return parsed.render_as_string(hide_password=True)


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{data_dir / DB_FILE_NAME}"


def parse_database_url(database_url: str | None, data_dir: Path) -> DatabaseLocation:
    """Accept ``sqlite:///``, ``postgresql://``, ``postgres://`` and ``postgresql+asyncpg://``.

    The result always uses the async drivers (aiosqlite, asyncpg). Anything else is a
    :class:`ConfigError` naming the supported forms.
    """
    raw = database_url.strip() if database_url else ""
    if not raw:
        raw = default_database_url(data_dir)
    try:
        url = make_url(raw)
    except ArgumentError as exc:
        raise ConfigError(
            f"database URL {mask_url(raw)!r} is not a URL; use postgresql://user:pass@host/db "
            "or sqlite:///path/to/kirogate.db"
        ) from exc
    backend, _, driver = url.drivername.partition("+")
    if backend in _PG_SCHEMES:
        if driver not in ("", "asyncpg"):
            raise ConfigError(
                f"database URL {mask_url(url)}: driver {driver!r} is not supported; "
                "use postgresql:// or postgresql+asyncpg://"
            )
        if not url.database:
            raise ConfigError(f"database URL {mask_url(url)} names no database")
        return DatabaseLocation(url.set(drivername="postgresql+asyncpg"), "postgresql", None)
    if url.drivername in _SQLITE_DRIVERS:
        if not url.database or url.database == ":memory:" or url.database.startswith("file:"):
            raise ConfigError(
                f"database URL {mask_url(url)}: in-memory SQLite is not supported; "
                "give a file path (sqlite:///path/to/kirogate.db)"
            )
        path = Path(url.database).expanduser().absolute()
        url = url.set(drivername="sqlite+aiosqlite", database=str(path))
        return DatabaseLocation(url, "sqlite", path)
    raise ConfigError(
        f"database URL {mask_url(url)}: unsupported scheme {url.drivername!r}; "
        "use postgresql://, postgres://, postgresql+asyncpg:// or sqlite:///"
    )
