"""The app in NiceGUI's simulation (the `User` fixture, no browser) for tests/pages and tests/web: each test gets
the app from main.py on a fresh data dir (their conftest.py use `fresh_data_dir`), and people sign up through the
login page as anyone would."""

from collections.abc import Callable
from pathlib import Path

import pytest
from nicegui.storage import Storage
from nicegui.testing import User

from pages.people_list import PeopleList


@pytest.fixture(autouse=True)
def fresh_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv('VOICECONNECT_DATA_DIR', str(tmp_path / 'data'))
    monkeypatch.setenv('VOICECONNECT_ICE_SERVERS', '[]')
    # NiceGUI read NICEGUI_STORAGE_PATH when pytest imported it, before main.py could point it at DATA_DIR
    monkeypatch.setattr(Storage, 'path', tmp_path / 'data' / 'nicegui')


async def sign_up(user: User, name: str, password: str = 'correct horse') -> None:
    await user.open('/login')
    await user.should_see('Username')
    user.find('Username').type(name)
    user.find('Password').type(password)
    user.find('Create account').click()
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
