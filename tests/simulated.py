"""The app in NiceGUI's simulation (the `User` fixture, no browser) for tests/pages and tests/web: each test gets
the app from main.py on a fresh data dir (their conftest.py use `fresh_data_dir`), and people sign up through the
login page as anyone would."""

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nicegui import ui
from nicegui.storage import Storage
from nicegui.testing import User

from pages.people_list import PeopleList
from web.nicegui_fixes.browser_session import FOLLOW_PATH, SIGN_IN_PATH

# what the page runs for a sign-in (and for a tab that follows its browser to a new id): a fetch with a ticket
ROUND_TRIP = re.compile(rf".*fetch\('({SIGN_IN_PATH}|{FOLLOW_PATH})', .*'X-Ticket': '([\w-]+)'")
_fetches: set['asyncio.Task[Any]'] = set()


@pytest.fixture(autouse=True)
def fresh_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('VOICECONNECT_ICE_SERVERS', '[]')
    # NiceGUI read NICEGUI_STORAGE_PATH when pytest imported it, before main.py could point it at DATA_DIR
    monkeypatch.setattr(Storage, 'path', tmp_path / 'data' / 'nicegui')


@pytest.fixture(autouse=True)
def browsers_make_their_round_trips(monkeypatch: pytest.MonkeyPatch) -> None:
    """The simulated browser makes the HTTP round trip a page makes in Chromium at a sign-in (the fetch that gives
    the browser a new id: web/nicegui_fixes/browser_session.py), with the simulated user's own cookies."""
    patch_emit = User._patch_outbox_emit_function

    def patch_emit_with_round_trips(self: User) -> None:
        patch_emit(self)
        emit = self._client.outbox._emit

        async def emit_with_round_trips(message: Any) -> None:
            await emit(message)
            _, kind, data = message
            if kind == 'run_javascript' and (match := ROUND_TRIP.match(data['code'])):
                _fetch(self, match.group(1), match.group(2))

        self._client.outbox._emit = emit_with_round_trips  # type: ignore[method-assign]

    monkeypatch.setattr(User, '_patch_outbox_emit_function', patch_emit_with_round_trips)


def _fetch(user: User, path: str, ticket: str) -> None:
    task = asyncio.get_running_loop().create_task(user.http_client.post(path, headers={'X-Ticket': ticket}))
    _fetches.add(task)
    task.add_done_callback(_fetches.discard)


async def submit_login(
    user: User, name: str, password: str = 'correct horse', button: str = 'Create account', path: str = '/login'
) -> None:
    """Open `path` (a page that sends a signed-out browser to the sign-in form), fill in the form and click
    `button` (`Create account` or `Sign in`); what the page says next is the caller's to check."""
    await user.open(path)
    await user.should_see('Username')
    user.find('Username').type(name)
    user.find('Password').type(password)
    user.find(kind=ui.button, content=button).click()


async def sign_up(user: User, name: str, password: str = 'correct horse') -> None:
    await submit_login(user, name, password)
    await user.should_see(f'Signed in as {name}', retries=20)  # sign-up writes to SQLite: slower on a busy machine


async def alice_sees_bob(alice: User, create_user: Callable[[], User]) -> User:
    """alice and bob signed up, alice's dashboard listing bob; returns bob."""
    await sign_up(alice, 'alice')
    bob = create_user()
    await sign_up(bob, 'bob')
    await alice.should_see('Call bob')
    return bob


def click_call(user: User, name: str) -> None:
    """Click `Call <name>` in the online list (its rows are drawn by the browser, so the simulation sends the
    list's `call` event the way a click on that row's button does)."""
    user.find(kind=PeopleList, content=f'Call {name}').trigger('call', name)


async def ring(caller: User, name: str) -> None:
    """Click `Call <name>` and wait until it rings (the caller's page says `Calling <name>…`): placing a call checks
    the caller's session in the database first, so the ring is not there the moment the click is."""
    click_call(caller, name)
    await caller.should_see(f'Calling {name}…', retries=20)
