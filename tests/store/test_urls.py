from pathlib import Path

import pytest

from kirogate.errors import ConfigError
from kirogate.store.urls import mask_url, parse_database_url

DATA = Path("/srv/kg")


def test_default_is_sqlite_file_in_data_dir():
    location = parse_database_url(None, DATA)
    assert location.dialect == "sqlite"
    assert location.sqlite_path == DATA / "kirogate.db"
    assert location.url.drivername == "sqlite+aiosqlite"


def test_blank_url_means_default():
    assert parse_database_url("  ", DATA).sqlite_path == DATA / "kirogate.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:p@db:5432/kg",
        "postgres://u:p@db:5432/kg",
        "postgresql+asyncpg://u:p@db:5432/kg",
    ],
)
def test_postgres_spellings_normalise_to_asyncpg(url):
    location = parse_database_url(url, DATA)
    assert location.dialect == "postgresql"
    assert location.url.drivername == "postgresql+asyncpg"
    assert location.display_url == "postgresql+asyncpg://u:***@db:5432/kg"


def test_relative_sqlite_path_becomes_absolute():
    location = parse_database_url("sqlite:///rel/kg.db", DATA)
    assert location.sqlite_path == Path.cwd() / "rel" / "kg.db"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("mysql://u@h/db", "unsupported scheme 'mysql'"),
        ("postgresql+psycopg2://u@h/db", "driver 'psycopg2' is not supported"),
        ("postgresql://u@h", "names no database"),
        ("sqlite://", "in-memory SQLite is not supported"),
        ("sqlite:///:memory:", "in-memory SQLite is not supported"),
        ("not a url", "is not a URL"),
    ],
)
def test_bad_urls_are_config_errors(url, message):
    with pytest.raises(ConfigError, match=message):
        parse_database_url(url, DATA)


def test_bad_url_message_never_shows_the_password():
    with pytest.raises(ConfigError) as caught:
        parse_database_url("mysql://root:topsecret@h/db", DATA)
    assert "topsecret" not in str(caught.value)


def test_mask_url_hides_password_and_unparseable_input():
    assert mask_url("postgresql://a:b@h/d") == "postgresql://a:***@h/d"
    assert "secret" not in mask_url("secret garbage")
