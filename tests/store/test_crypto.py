import stat

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from kirogate.errors import ConfigError
from kirogate.store import Store
from kirogate.store.crypto import derive_key, load_key
from tests.store.factories import idc, social, token

WRONG_KEY = (
    "cannot decrypt stored secrets: the secret key differs from the one they were written with"
)


async def raw_row(store, table, row_id):
    async with store.engine.connect() as conn:
        return (
            (await conn.execute(sa.text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}))
            .mappings()
            .one()
        )


async def test_credential_secrets_are_ciphertext_in_the_table(store):
    cred = idc("enc", proxy_password="proxy-pass-" + "p" * 20, proxy_url="http://p:1")
    cred.access_token = token("enc", "a")
    await store.add_credential(cred)
    row = await raw_row(store, "credentials", cred.id)
    for column, plain in {
        "refresh_token": cred.refresh_token,
        "access_token": cred.access_token,
        "client_secret": cred.client_secret,
        "proxy_password": cred.proxy_password,
    }.items():
        assert row[column].startswith("gAAAAA"), column
        assert plain not in row[column]
    assert row["client_id"] == "client-enc"  # not a secret
    (loaded,) = await store.list_credentials()
    assert loaded.client_secret == cred.client_secret
    assert loaded.proxy_password == cred.proxy_password


async def test_api_key_credential_and_proxy_passwords_are_ciphertext(store):
    from tests.store.factories import api_key

    cred = api_key("enc")
    await store.add_credential(cred)
    row = await raw_row(store, "credentials", cred.id)
    assert row["kiro_api_key"].startswith("gAAAAA")
    assert "ksk_" not in row["kiro_api_key"]
    proxy = await store.add_proxy("http://proxy:3128", username="u", password="hunter2-proxy")
    row = await raw_row(store, "proxies", proxy.id)
    assert row["password"].startswith("gAAAAA")
    assert "hunter2" not in row["password"]


async def test_wrong_key_is_a_clear_config_error(store, open_store, data_dir):
    await store.add_credential(social("k"))
    (data_dir / "secret.key").write_text(Fernet.generate_key().decode())
    with pytest.raises(ConfigError) as caught:
        await open_store()
    message = str(caught.value)
    assert WRONG_KEY in message
    assert "KIROGATE_SECRET_KEY" in message
    assert "secret.key" in message


async def test_wrong_env_key_is_refused_too(open_store):
    await open_store(secret_key="the right passphrase")
    with pytest.raises(ConfigError, match=WRONG_KEY):
        await open_store(secret_key="another passphrase")


async def test_passphrase_key_reopens_and_writes_no_key_file(open_store, data_dir):
    first = await open_store(secret_key="correct horse battery staple")
    cred = social("pass")
    await first.add_credential(cred)
    second = await open_store(secret_key="correct horse battery staple")
    (loaded,) = await second.list_credentials()
    assert loaded.refresh_token == cred.refresh_token
    assert not (data_dir / "secret.key").exists()


async def test_fernet_key_in_env_is_used_as_is(open_store, data_dir):
    key = Fernet.generate_key().decode()
    store = await open_store(secret_key=key)
    await store.add_proxy("http://h:1", username="u", password="pw-123456")
    async with store.engine.connect() as conn:
        token_ = await conn.scalar(sa.text("SELECT password FROM proxies"))
    assert Fernet(key.encode()).decrypt(token_.encode()) == b"pw-123456"


async def test_key_file_is_created_once_with_mode_0600(open_store, data_dir):
    await open_store()
    key_file = data_dir / "secret.key"
    first = key_file.read_text()
    await open_store()
    assert key_file.read_text() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_derive_key_is_stable_and_keeps_fernet_keys():
    assert derive_key("pass phrase") == derive_key("pass phrase")
    assert derive_key("pass phrase") != derive_key("pass phrasf")
    key = Fernet.generate_key()
    assert derive_key(key.decode()) == key


def test_corrupt_key_file_is_a_config_error(tmp_path):
    (tmp_path / "secret.key").write_text("not-a-key\n")
    with pytest.raises(ConfigError, match="does not hold a valid key"):
        load_key(None, tmp_path)


def test_world_readable_key_file_is_tightened(tmp_path):
    path = tmp_path / "secret.key"
    path.write_text(Fernet.generate_key().decode())
    path.chmod(0o644)
    load_key(None, tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_blank_env_key_falls_back_to_the_key_file(tmp_path):
    source = load_key("   ", tmp_path)
    assert "secret.key" in source.origin
    assert (tmp_path / "secret.key").exists()


async def test_store_open_with_wrong_key_leaves_no_serve_lock_behind(data_dir):
    store = await Store.open(database_url=None, data_dir=data_dir, secret_key="one")
    await store.close()
    with pytest.raises(ConfigError, match=WRONG_KEY):
        await Store.open(database_url=None, data_dir=data_dir, secret_key="two", serve=True)
    again = await Store.open(database_url=None, data_dir=data_dir, secret_key="one", serve=True)
    await again.close()


async def test_a_proxy_url_and_its_password_are_ciphertext_in_the_table(store):
    url = "http://alice:hunter2-in-url@proxy.example:3128"
    cred = social("proxied", proxy_url=url)
    await store.add_credential(cred)
    row = await raw_row(store, "credentials", cred.id)
    assert row["proxy_url"].startswith("gAAAAA")
    assert "hunter2" not in row["proxy_url"]
    assert (await store.get_credential(cred.id)).proxy_url == url
    other = "socks5://bob:swordfish-url@proxy.example:1080"
    await store.update_credential(cred.id, proxy_url=other)
    row = await raw_row(store, "credentials", cred.id)
    assert "swordfish" not in row["proxy_url"]
    assert (await store.get_credential(cred.id)).proxy_url == other


async def test_a_plaintext_proxy_url_of_an_older_version_is_read_then_encrypted(store, open_store):
    cred = social("legacy")
    await store.add_credential(cred)
    legacy = "http://carol:legacy-pass@proxy.example:3128"
    async with store.engine.begin() as conn:
        await conn.execute(
            sa.text("UPDATE credentials SET proxy_url = :url WHERE id = :id"),
            {"url": legacy, "id": cred.id},
        )
    assert (await store.get_credential(cred.id)).proxy_url == legacy  # still readable
    reopened = await open_store()  # the upgrade on open
    row = await raw_row(reopened, "credentials", cred.id)
    assert row["proxy_url"].startswith("gAAAAA")
    assert (await reopened.get_credential(cred.id)).proxy_url == legacy
    assert await reopened.encrypt_plaintext_urls() == 0  # idempotent


async def test_sql_logs_never_show_bound_values(store, caplog):
    import logging

    with caplog.at_level(logging.DEBUG):
        logging.getLogger("sqlalchemy.engine").setLevel(logging.DEBUG)
        try:
            await store.add_credential(social("logged", email="visible-in-params@example.com"))
        finally:
            logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)
    engine_lines = [r.getMessage() for r in caplog.records if r.name.startswith("sqlalchemy")]
    assert any("INSERT INTO credentials" in line for line in engine_lines)
    assert not any("visible-in-params" in line for line in engine_lines)
    # aiosqlite's own DEBUG lines carry the arguments: setup_logging holds it at INFO
    # (tests/test_log.py), which caplog here bypasses.
