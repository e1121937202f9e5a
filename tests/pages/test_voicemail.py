"""Voicemail on the pages (simulated users): `Leave a message` only after an unanswered call, only with VOICEMAIL on;
a message that arrives shows in the callee's open Recent calls and missed badge at once, and `Delete message` takes it
away in every tab. Recording itself needs media: tests/e2e/test_voicemail.py."""

import asyncio
import math
import struct

import pytest
from nicegui import ui
from nicegui.testing import User

from pages.recent_calls import RecentCalls
from tests.simulated import ring, sign_up
from voiceconnect.connections.events import MessagesChanged
from web.core import backend

from .test_call_experience import sign_in


def tone(seconds: float) -> bytes:
    return b''.join(struct.pack('<h', int(8000 * math.sin(i / 10))) for i in range(int(seconds * 48_000)))


async def call_carol_offline(user: User, create_user) -> User:
    carol = create_user()
    await sign_up(carol, 'carol')
    carol.find('Log out').click()
    await carol.should_see('Username')
    await sign_up(user, 'alice')
    user.find('Search people').type('carol')
    await user.should_see(kind=ui.button, content='Call carol')
    user.find(kind=ui.button, content='Call carol').click()
    await user.should_see('carol is offline', retries=20)
    return carol


async def test_leave_a_message_follows_a_call_nobody_took_but_not_one_declined(user: User, create_user) -> None:
    await call_carol_offline(user, create_user)
    await user.should_see(kind=ui.button, content='Leave a message')
    user.find('Back to dashboard').click()
    bob = create_user()
    await sign_up(bob, 'bob')
    await ring(user, 'bob')
    await bob.should_see('Incoming call')
    bob.find('Decline').click()
    await user.should_see('bob declined', retries=20)
    await user.should_not_see('Leave a message')


@pytest.fixture
def voicemail_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings for the app under test: ask for this fixture before `user`, which starts the app."""
    monkeypatch.setenv('VOICECONNECT_VOICEMAIL', 'false')


async def test_with_voicemail_off_no_message_is_offered(voicemail_off: None, user: User, create_user) -> None:
    await call_carol_offline(user, create_user)
    await user.should_see('Back to dashboard')
    await user.should_not_see('Leave a message')


async def test_a_message_shows_at_once_in_the_callees_tabs_and_delete_takes_it_away_everywhere(
    user: User, create_user
) -> None:
    carol = await call_carol_offline(user, create_user)
    for _ in range(100):  # the history writes the call's row a moment after it ended
        if await backend().store.recent_calls('carol', 1):
            break
        await asyncio.sleep(0.05)
    back = create_user()
    await sign_in(back, 'carol')
    await back.should_see('1 missed')
    back.find('1 missed').click()  # seen
    await back.should_not_see('1 missed')
    second = create_user()  # another browser of hers
    await sign_in(second, 'carol')
    del carol

    core = backend()
    (row,) = await core.store.recent_calls('carol', 1)
    assert core.people.mailbox is not None
    await core.people.mailbox.save(row.id, 'alice', 'carol', tone(2), core.clock.now())
    core.hub.tell('carol', MessagesChanged())  # what the recorder says once it kept a message
    for tab in (back, second):
        await tab.should_see('Message from alice', retries=20)
        await tab.should_see('0:02')
        await tab.should_see('1 missed')  # news since she last looked
    await user.should_not_see('Message from alice')  # the caller's Recent calls have no player

    (message,) = [r['message'] for r in back.find(kind=RecentCalls).elements.pop().rows if r['message']]
    back.find(kind=RecentCalls).trigger('delete_message', message)
    for tab in (back, second):
        await tab.should_not_see('Message from alice', retries=20)
    assert list(core.people.mailbox.folder.iterdir()) == []
