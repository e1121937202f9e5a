"""Shared fixtures for the core's unit tests: a Hub on a fake clock with fake tabs and a fake recorder."""

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voiceconnect.clock import FakeClock
from voiceconnect.connection import Device
from voiceconnect.hub import Hub
from voiceconnect.store import Store

from .helpers import GRACE_S, MEDIA_TIMEOUT_S, RING_TIMEOUT_S, FakeRecorder, World


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def recorder() -> FakeRecorder:
    return FakeRecorder()


@pytest.fixture
def world(clock: FakeClock, recorder: FakeRecorder) -> World:
    hub = Hub(clock, grace_s=GRACE_S, ring_timeout_s=RING_TIMEOUT_S, media_timeout_s=MEDIA_TIMEOUT_S, recorder=recorder)
    return World(clock, recorder, hub)


@pytest.fixture
def hub(world: World) -> Hub:
    return world.hub


@pytest.fixture
def alice(world: World) -> Device:
    return world.tab('alice')


@pytest.fixture
def bob(world: World) -> Device:
    return world.tab('bob')


@pytest.fixture
def carol(world: World) -> Device:
    return world.tab('carol')


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
