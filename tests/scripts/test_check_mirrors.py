from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
_spec = importlib.util.spec_from_file_location(
    "check_mirrors", ROOT / "scripts" / "check_mirrors.py"
)
assert _spec is not None and _spec.loader is not None
check_mirrors = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_mirrors)

TESTS = check_mirrors.TESTS


def every_exception_used() -> list[Path]:
    """One module per exception pattern, so the stale-exception rule stays quiet."""
    return [Path(p.replace("*", "x.py")) for p in check_mirrors.EXCEPTIONS]


def test_a_module_without_its_mirror_is_reported() -> None:
    failures = check_mirrors.check([*every_exception_used(), Path("pool/new.py")], set())
    assert failures == ["src/kirogate/pool/new.py: no mirrored test module tests/pool/test_new.py"]


def test_a_top_level_module_is_mirrored_directly_under_tests() -> None:
    assert check_mirrors.mirror(Path("tasks.py")) == TESTS / "test_tasks.py"
    assert check_mirrors.mirror(Path("convert/kiro.py")) == TESTS / "convert" / "test_kiro.py"


def test_a_mirrored_module_passes() -> None:
    modules = [*every_exception_used(), Path("pool/new.py")]
    assert check_mirrors.check(modules, {TESTS / "pool" / "test_new.py"}) == []


def test_an_exception_that_excuses_nothing_is_reported() -> None:
    failures = check_mirrors.check([], set())
    assert "scripts/check_mirrors.py: exception '__main__.py' excuses nothing now" in failures


def test_service_admin_and_api_modules_are_checked_like_every_other() -> None:
    # They were excused while the service-package change moved them; every one has its mirror now.
    modules = [*every_exception_used(), Path("service/answers.py"), Path("admin/keys.py")]
    assert check_mirrors.check(modules, set()) == [
        "src/kirogate/service/answers.py: no mirrored test module tests/service/test_answers.py",
        "src/kirogate/admin/keys.py: no mirrored test module tests/admin/test_keys.py",
    ]


def test_the_source_tree_passes() -> None:
    assert check_mirrors.main() == 0
