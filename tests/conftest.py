"""Shared pytest configuration: hypothesis profiles (choose with HYPOTHESIS_PROFILE) and the
``bridge_world`` fixture (both emulators, real clients, a state store)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from tests.bridge_world import World, close_world, make_world

settings.register_profile("fast", max_examples=50, deadline=None)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "fast"))


@pytest.fixture
def bridge_world(tmp_path: Path) -> Iterator[Callable[..., World]]:
    """Build two-emulator worlds (tests/bridge_world.py: ``make_world``'s options) in
    ``tmp_path``; every world built is closed after the test."""
    made: list[World] = []

    def build(**options: Any) -> World:
        where = tmp_path / f"world-{len(made)}"
        where.mkdir()
        made.append(make_world(where, **options))
        return made[-1]

    yield build
    for world in made:
        close_world(world)
