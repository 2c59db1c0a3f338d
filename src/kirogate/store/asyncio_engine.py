"""SQLAlchemy's asyncio engine without the ORM that ``sqlalchemy.ext.asyncio`` drags in.

The store uses Core only, but that package's ``__init__`` imports ``AsyncSession`` and with it
all of ``sqlalchemy.orm``: ~6 MiB resident in every serving process for nothing. So when no
one has imported the package yet, it is registered here without running its ``__init__`` and
the engine is taken from its ``engine`` submodule. The first access to any other name of the
package (``from sqlalchemy.ext.asyncio import AsyncSession``, anywhere in the process) runs
the real ``__init__`` then, so other code sees the package it expects, only later.

The store imports ``AsyncEngine``, ``AsyncConnection`` and ``create_async_engine`` from here.
"""

from __future__ import annotations

import importlib.util
import sys
import types

_PACKAGE = "sqlalchemy.ext.asyncio"


def _register_without_init() -> bool:
    """Put the package in ``sys.modules`` uninitialised; ``False`` if it is already there."""
    if _PACKAGE in sys.modules:
        return False
    import sqlalchemy.ext

    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or spec.loader is None:  # pragma: no cover - SQLAlchemy always ships it
        return False
    loader = spec.loader
    package = importlib.util.module_from_spec(spec)

    def complete(name: str) -> object:
        # PEP 562: called for names the package does not have yet. A submodule's name (``from
        # . import exc`` in engine.py probes it) is left to the import system; anything else
        # runs the real __init__ once (it finds .engine imported) and answers as it would.
        if importlib.util.find_spec(f"{_PACKAGE}.{name}") is not None:
            raise AttributeError(name)
        vars(package).pop("__getattr__", None)
        loader.exec_module(package)
        return getattr(package, name)

    package.__getattr__ = complete  # type: ignore[method-assign]
    sys.modules[_PACKAGE] = package
    sqlalchemy.ext.asyncio = package
    return True


def orm_free() -> bool:
    """``True`` while ``sqlalchemy.ext.asyncio`` has not run its ``__init__`` (no ORM)."""
    package = sys.modules.get(_PACKAGE)
    return isinstance(package, types.ModuleType) and "__getattr__" in vars(package)


_register_without_init()

from sqlalchemy.ext.asyncio.engine import (  # noqa: E402 - after the registration above
    AsyncConnection,
    AsyncEngine,
    create_async_engine,
)

__all__ = ["AsyncConnection", "AsyncEngine", "create_async_engine", "orm_free"]
