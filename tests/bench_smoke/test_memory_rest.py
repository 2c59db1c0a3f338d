"""``bench/memory_rest.py``: the serving process's modules are split into the table's groups."""

from __future__ import annotations

from bench.memory_rest import GROUPS, resolve


def test_each_module_lands_in_one_group_in_load_order() -> None:
    modules = ["__main__", "asyncio", "sqlalchemy", "sqlalchemy.sql", "kirogate.api.app",
               "kirogate.api.anthropic", "kirogate.admin.keys", "orjson", "greenlet"]  # fmt: skip
    groups = dict(resolve(modules))
    assert list(groups) == [label for label, _ in GROUPS]
    assert groups["standard library modules the stack loads"] == ["asyncio"]
    sqlalchemy = next(label for label in groups if label.startswith("SQLAlchemy"))
    assert groups[sqlalchemy] == ["sqlalchemy", "sqlalchemy.sql", "greenlet"]
    assert groups["other third-party (orjson, ...)"] == ["orjson"]
    client_apis = next(label for label in groups if label.startswith("kirogate api ("))
    assert groups[client_apis] == ["kirogate.api.anthropic"]  # api.app loads admin: last
    assert groups["kirogate admin (operator API)"] == ["kirogate.admin.keys"]
    assert groups["kirogate api.app and the rest"] == ["kirogate.api.app"]
    assert sum(len(names) for names in groups.values()) == len(modules) - 1  # not __main__
