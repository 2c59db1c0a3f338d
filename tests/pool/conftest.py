from __future__ import annotations

import pytest

from tests.pool.fakes import FakeTime


@pytest.fixture
def clock() -> FakeTime:
    return FakeTime()
