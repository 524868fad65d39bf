"""The world: one of everything, for the tests that walk every URL (tests/web/world.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.web.world import World, build_world, clear_of_midnight


@pytest.fixture
def world(users) -> Iterator[World]:
    with clear_of_midnight():
        yield build_world(users)
