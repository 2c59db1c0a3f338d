import pytest
import sqlalchemy as sa

from kirogate.store.migrate import MIGRATIONS_DIR, alembic_config, head_revision


def test_head_is_the_latest_revision_shipped_in_the_package():
    assert head_revision() == "0010_logs"
    assert (MIGRATIONS_DIR / "versions" / "0001_initial.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0002_source_file_id.py").is_file()
    assert (MIGRATIONS_DIR / "versions" / "0010_logs.py").is_file()
    assert (MIGRATIONS_DIR / "env.py").is_file()


async def test_downgrade_to_base_and_upgrade_again(store, open_store):
    from alembic import command

    def downgrade(conn):
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "base")

    await store.engine.dispose()
    async with store.engine.begin() as conn:
        await conn.run_sync(downgrade)
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(sa.inspect(c).get_table_names()))
    assert tables <= {"alembic_version"}
    again = await open_store()
    assert again.schema_upgraded
    await again.set_setting("back", True)


def test_env_refuses_to_run_without_a_connection():
    from alembic import command

    with pytest.raises(RuntimeError, match=r"there is no alembic\.ini"):
        command.upgrade(alembic_config(), "head")


async def test_a_database_at_0001_is_upgraded_keeping_its_rows(store, open_store):
    from alembic import command

    from kirogate.upstream.credentials import AuthMethod, Credential

    cred, _ = await store.add_credential(
        Credential(auth_method=AuthMethod.SOCIAL, refresh_token="aorAAAAAG" + "m" * 100)
    )

    def downgrade(conn):
        config = alembic_config()
        config.attributes["connection"] = conn
        command.downgrade(config, "0001_initial")

    await store.engine.dispose()
    async with store.engine.begin() as conn:
        await conn.run_sync(downgrade)
    again = await open_store()
    assert again.schema_upgraded
    assert [c.id for c in await again.list_credentials()] == [cred.id]
