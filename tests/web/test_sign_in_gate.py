"""The sign-in gate: no page before the backend has started, and a browser without accounts lands on /login."""

import asyncio

import pytest
from nicegui.testing import User

from tests.simulated import sign_up
from voiceconnect.people.db import Store


@pytest.fixture
def slow_database_start(monkeypatch: pytest.MonkeyPatch) -> None:
    """NiceGUI runs async start-up handlers as tasks and serves requests meanwhile; make the schema take a while."""
    create_schema = Store.create_schema

    async def slowly(self: Store) -> None:
        await asyncio.sleep(0.5)
        await create_schema(self)

    monkeypatch.setattr(Store, 'create_schema', slowly)


async def test_the_first_page_waits_for_the_database(slow_database_start: None, user: User) -> None:
    await sign_up(user, 'alice')  # without the wait: "no such table: sessions"


async def test_a_browser_without_accounts_is_sent_to_sign_in(user: User) -> None:
    await user.open('/call/c123')
    await user.should_see('Sign in to see who is online and call them.')
