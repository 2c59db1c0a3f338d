"""``kirogate.store.asyncio_engine``: the store without the ORM, other code unaffected."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def run(code: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_the_store_works_without_loading_the_orm() -> None:
    out = run(
        """
        import asyncio, sys, tempfile
        from pathlib import Path
        from kirogate.store import Store
        from kirogate.store.asyncio_engine import orm_free

        async def main():
            with tempfile.TemporaryDirectory() as tmp:
                store = await Store.open(database_url=None, data_dir=Path(tmp))
                await store.set_setting("a", 1)
                assert await store.get_setting("a") == 1
                await store.close()

        asyncio.run(main())
        print(orm_free(), "sqlalchemy.orm" in sys.modules)
        """
    )
    assert out == "True False"


def test_other_code_still_gets_the_whole_package() -> None:
    out = run(
        """
        import sys
        import kirogate.store.asyncio_engine as ours
        from sqlalchemy.ext.asyncio import exc  # a submodule: no ORM yet
        assert "sqlalchemy.orm" not in sys.modules and ours.orm_free()
        from sqlalchemy.ext.asyncio import AsyncSession, AsyncEngine
        import sqlalchemy.ext.asyncio as package
        assert AsyncEngine is ours.AsyncEngine
        assert package.async_sessionmaker is not None
        print(ours.orm_free(), "sqlalchemy.orm" in sys.modules, AsyncSession.__name__)
        """
    )
    assert out == "False True AsyncSession"


def test_a_package_imported_before_is_used_as_it_is() -> None:
    out = run(
        """
        import sqlalchemy.ext.asyncio
        import kirogate.store.asyncio_engine as ours
        print(ours.orm_free(), ours.create_async_engine is sqlalchemy.ext.asyncio.create_async_engine)
        """
    )
    assert out == "False True"
