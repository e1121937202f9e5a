"""Shared fixtures for the core's unit tests: a Hub on a fake clock with fake tabs and a fake recorder."""

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.people.db import Store

from .helpers import FakeRecorder, World, make_board


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> FakeRecorder:
    return FakeRecorder()


@pytest.fixture
def world(clock: FakeClock, recorder: FakeRecorder) -> World:
    return World(clock, recorder, make_board(clock, recorder))


@pytest.fixture
def hub(world: World) -> InMemoryHub:
    return world.hub


@pytest.fixture
async def alice(world: World) -> Device:
    return await world.tab('alice')


@pytest.fixture
async def bob(world: World) -> Device:
    return await world.tab('bob')


@pytest.fixture
async def carol(world: World) -> Device:
    return await world.tab('carol')


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger='voiceconnect')
    return caplog


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store(f'sqlite+aiosqlite:///{tmp_path}/t.db')
    await store.create_schema()
    yield store
    await store.close()
